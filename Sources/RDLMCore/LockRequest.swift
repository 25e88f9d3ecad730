/// What a client asks for when it posts to `/locks/{resource}`.
public struct LockRequest: Sendable, Equatable {
    /// Free text describing the client.
    public var title: String
    /// How long the lock is held once granted, before it is released automatically.
    public var lifetime: Duration
    /// How long the request may wait in the queue; zero makes it a try-lock.
    public var wait: Duration
    public var mode: LockMode
    /// Who asks, for `LockTableLimits.maxLocksPerClient` (a peer address, say). Nil is
    /// counted against nobody: a lock restored from a journal, or a caller that trusts
    /// its clients.
    public var client: String?

    public init(title: String, lifetime: Duration, wait: Duration, mode: LockMode = .exclusive, client: String? = nil) {
        self.title = title
        self.lifetime = lifetime
        self.wait = wait
        self.mode = mode
        self.client = client
    }
}
