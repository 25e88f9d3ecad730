/// Why an etcd request or watch failed. What a caller may conclude differs by case: only
/// after `.unavailable` is it certain that nothing was applied.
public enum EtcdError: Error, Sendable, Equatable {
    /// Nothing was applied: no endpoint reachable, no leader, refused before it was sent.
    case unavailable(String)
    /// Sent, and no answer (timeout, connection lost after sending): it may have been applied.
    case outcomeUnknown(String)
    /// A watch or range at a compacted revision; the compact revision, 0 where etcd does not
    /// say it (a range's error names no revision).
    case compacted(Int64)
    /// etcd answered with an error that is not about availability (lease not found, a bad
    /// request...): retrying the same request will not help.
    case rejected(String)

    /// A one-line human-readable cause, for 503 bodies and logs.
    public var reason: String {
        switch self {
        case .unavailable(let reason): return "etcd unavailable: \(reason)"
        case .outcomeUnknown(let reason): return "etcd outcome unknown: \(reason)"
        case .compacted(let revision): return "etcd revision compacted" + (revision > 0 ? " (compact revision \(revision))" : "")
        case .rejected(let reason): return "etcd refused the request: \(reason)"
        }
    }
}

/// What an error etcd answered with says about the request, so that the client knows
/// whether another member may take it and what to tell the caller.
enum EtcdFailure: Equatable {
    /// Refused before it was proposed: another member may take it.
    case notApplied(String)
    /// Proposed, then timed out or lost its leader: it may yet be applied.
    case maybeApplied(String)
    case compacted
    case rejected(String)

    // gRPC status codes, as the gateway reports them.
    private static let canceled = 1
    private static let deadlineExceeded = 4
    private static let outOfRange = 11
    private static let unavailableCode = 14

    /// The messages of etcd's errors (api/v3rpc/rpctypes) that mean "not taken, try another
    /// member"; they come with code 14 UNAVAILABLE, but the message is what etcd documents.
    private static let notAppliedMessages = [
        "no leader", "not capable", "too many requests", "proposal dropped",
        "there is no address available", "there is no connection available", "transport is closing",
        "is not ready",
    ]
    /// The ones after a proposal: etcd itself cannot say whether it will apply.
    private static let maybeAppliedMessages = [
        "request timed out", "leader changed", "connection lost", "previous leader failure",
    ]

    static func classify(code: Int?, message: String) -> EtcdFailure {
        if maybeAppliedMessages.contains(where: message.contains) || code == deadlineExceeded || code == canceled {
            return .maybeApplied(message)
        }
        if notAppliedMessages.contains(where: message.contains) || code == unavailableCode {
            return .notApplied(message)
        }
        if code == outOfRange, message.contains("compacted") { return .compacted }
        return .rejected(message)
    }
}
