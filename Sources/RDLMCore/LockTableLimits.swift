/// The bounds that keep the table from growing without limit.
public struct LockTableLimits: Sendable, Equatable {
    /// Waiting requests on one resource; one more is refused.
    public var maxWaitersPerResource: Int
    /// Lock records (holders and waiters) over all resources; one more is refused.
    public var maxLocks: Int

    public init(maxWaitersPerResource: Int = 100_000, maxLocks: Int = 1_000_000) {
        self.maxWaitersPerResource = maxWaitersPerResource
        self.maxLocks = maxLocks
    }
}
