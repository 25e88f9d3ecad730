/// A held lock that releases itself when it goes out of scope.
///
/// `OwnedLock` cannot be copied, so exactly one owner is responsible for the lock. Release
/// it with ``release()`` to learn the outcome; if the owner lets it go without doing so
/// (a return, a thrown error, a cancelled task), its `deinit` releases the lock.
///
/// ```swift
/// func rotateLogs(client: RDLMClient) async throws {
///     let lock = try await client.acquireOwned("logs", lifetime: .seconds(30))
///     try await rotate(fencingToken: lock.lock.fencingToken)
/// }   // released here, even if rotate throws
/// ```
///
/// **The guarantee and its limit.** A `deinit` cannot wait, so it queues the `DELETE` on
/// the client's curl thread and returns at once: the release is sent promptly but nobody
/// learns whether it arrived. If it cannot be delivered (the daemon is unreachable, the
/// process exits first, or the client is shut down and the request does not finish within
/// the one-second grace period), the server frees the lock when its lifetime ends. Keep
/// lifetimes short enough for that to be acceptable, and call ``release()`` where the
/// outcome matters.
public struct OwnedLock: ~Copyable, Sendable {
    /// The lock held, with its URL and fencing token.
    public private(set) var lock: Lock
    private let client: RDLMClient
    private var isSettled = false

    init(lock: Lock, client: RDLMClient) {
        self.lock = lock
        self.client = client
    }

    /// Releases the lock and waits for the server's answer.
    /// - Throws: ``RDLMError/notFound`` when the lock was already gone, or another
    ///   `RDLMError`. Either way the lock is not released again on `deinit`.
    public consuming func release() async throws {
        isSettled = true
        try await client.release(lock)
    }

    /// Renews the lease: the lock now expires `lifetime` from now.
    /// - Parameter lifetime: the new lease; the lock's own lifetime if nil.
    /// - Throws: ``RDLMError/notFound`` when the lock is gone, or another `RDLMError`.
    public mutating func refresh(lifetime: Duration? = nil) async throws {
        lock = try await client.refresh(lock, lifetime: lifetime)
    }

    /// Gives up the automatic release and returns the plain lock, which the caller must
    /// then release (or leave to expire).
    public consuming func detach() -> Lock {
        isSettled = true
        return lock
    }

    deinit {
        if !isSettled {
            client.releaseWithoutWaiting(lock)
        }
    }
}

extension RDLMClient {
    /// Acquires a lock like ``acquire(_:lifetime:wait:mode:title:)`` and wraps it in an
    /// ``OwnedLock``, which releases it when its owner lets it go.
    /// - Parameters:
    ///   - resource: the resource's name, ASCII letters and digits.
    ///   - lifetime: the lease; the configured default if nil.
    ///   - wait: how long to wait for the lock; the configured default if nil.
    ///   - mode: exclusive (the default) or shared.
    ///   - title: what the server shows for this lock; the configured default if nil.
    /// - Returns: the held lock.
    public func acquireOwned(
        _ resource: String, lifetime: Duration? = nil, wait: Duration? = nil,
        mode: LockMode = .exclusive, title: String? = nil
    ) async throws -> OwnedLock {
        let lock = try await acquire(resource, lifetime: lifetime, wait: wait, mode: mode, title: title)
        return OwnedLock(lock: lock, client: self)
    }
}
