/// The bounds that keep the table from growing without limit.
public struct LockTableLimits: Sendable, Equatable {
    /// Waiting requests on one resource; one more is refused.
    public var maxWaitersPerResource: Int
    /// Lock records (holders and waiters) over all resources; one more is refused.
    public var maxLocks: Int
    /// Lock records (holders and waiters) of one `LockRequest.client`; one more is refused.
    /// Without it one client that reads its answers fills the whole table in seconds and
    /// everyone else is refused until its locks expire.
    ///
    /// The default, 10,000, is far above what one honest host holds (a busy CI host with
    /// thousands of parallel jobs, each holding a lock or two), while one client can take
    /// at most 1 % of the default `maxLocks`: a hundred clients would have to collude to
    /// fill the table.
    public var maxLocksPerClient: Int

    public init(maxWaitersPerResource: Int = 100_000, maxLocks: Int = 1_000_000, maxLocksPerClient: Int = 10_000) {
        self.maxWaitersPerResource = maxWaitersPerResource
        self.maxLocks = maxLocks
        self.maxLocksPerClient = maxLocksPerClient
    }
}
