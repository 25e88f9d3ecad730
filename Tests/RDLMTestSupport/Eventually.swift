/// A condition a test waited for never came true.
public struct ConditionTimeout: Error, CustomStringConvertible {
    public var description: String
}

/// Polls `condition` until it holds, for at most `timeout`: tests wait for a state rather
/// than sleep and hope, which keeps them right on a loaded machine.
public func eventually(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            throw ConditionTimeout(description: "timed out waiting until \(what)")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
