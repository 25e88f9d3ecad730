import NIOCore
import RDLMCore

/// How an acquire ended for its HTTP request.
public enum AcquireOutcome: Sendable, Equatable {
    /// Granted (201), at once or after waiting.
    case granted(LockInfo)
    /// The request's `wait` ran out (408), or it was a try-lock on a held resource.
    case waitTimedOut
    /// The waiting request was deleted by a release of its URL or an admin request (409).
    case deleted
    /// Too many waiters on the resource or locks overall (503).
    case refused(LockTable.Refusal)
    /// The server is stopping (503).
    case shuttingDown
    /// The client left before an answer; nobody will read this one.
    case abandoned
}

/// The seam between the HTTP layer and the lock state. The routes talk only to this, so a
/// second implementation (a replicated store shared by several daemons) can come later
/// without touching them. Answers are futures on the caller's event loop, NIO's own async
/// primitive, so an in-memory implementation answers without leaving the loop.
public protocol LockService: Sendable {
    /// Asks for a lock. The future completes when it is granted, refused, times out or is
    /// deleted, which may be long after the call. `id` is chosen by the caller so that it can
    /// `abandon` the request if its client leaves first.
    func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome>
    /// The client of a pending acquire went away: drop the request so it never becomes a holder.
    func abandon(_ id: LockID)
    /// Deletes a lock (holder or waiter); `false` when there is no such lock on that resource.
    func release(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool>
    /// Renews a holder's lease from now.
    func refresh(_ id: LockID, on resource: String, lifetime: Duration?, eventLoop: any EventLoop) -> EventLoopFuture<LockTable.RefreshResult>
    func lock(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<LockInfo?>
    /// Names of resources that have locks.
    func resourceNames(eventLoop: any EventLoop) -> EventLoopFuture<[String]>
    /// A resource's locks: holders first, then waiters in order.
    func locks(on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<[LockInfo]>
    /// Drops all locks of a resource; `false` when it had none.
    func deleteResource(_ resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool>
    func deleteAll(eventLoop: any EventLoop) -> EventLoopFuture<Void>
    /// Answers every pending acquire with `.shuttingDown` and refuses new ones.
    func shutdown()
}
