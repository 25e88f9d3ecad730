/// How a lock shares its resource.
public enum LockMode: String, Sendable, Hashable {
    /// Alone on the resource (the only mode of the original RDLM).
    case exclusive
    /// With any number of other shared holders, never with an exclusive one.
    case shared
}

/// What a client asks for when it posts to `/locks/{resource}`.
public struct LockRequest: Sendable, Equatable {
    /// Free text describing the client.
    public var title: String
    /// How long the lock is held once granted, before it is released automatically.
    public var lifetime: Duration
    /// How long the request may wait in the queue; zero makes it a try-lock.
    public var wait: Duration
    public var mode: LockMode

    public init(title: String, lifetime: Duration, wait: Duration, mode: LockMode = .exclusive) {
        self.title = title
        self.lifetime = lifetime
        self.wait = wait
        self.mode = mode
    }
}

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

/// A fencing token: strictly greater than every token granted before it by the same table.
public typealias FencingToken = UInt64
