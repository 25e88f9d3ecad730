import NIOCore
import RDLMCore

/// How an acquire ended for its HTTP request.
public enum AcquireOutcome: Sendable, Equatable {
    /// Granted (201), with the lock as it stands; `afterWaiting` when it was queued first.
    case granted(LockInfo, afterWaiting: Bool = false)
    /// The request's `wait` ran out (408), or it was a try-lock on a held resource.
    case waitTimedOut
    /// The waiting request was deleted by a release of its URL or an admin request (409).
    case deleted
    /// Turned down without waiting, because a limit was reached.
    case refused(AcquireRefusal)
    /// The server is stopping (503).
    case shuttingDown
    /// The client left before an answer; nobody will read this one.
    case abandoned
}

/// Why an acquire was turned down at once; each case carries the limit it hit, so the
/// answer can name it whichever backend decided.
public enum AcquireRefusal: Sendable, Equatable {
    /// The resource already has this many waiters (503).
    case tooManyWaiters(limit: Int)
    /// The server already holds this many locks (503).
    case tableFull(limit: Int)
    /// The client (a peer address) already holds or waits for this many locks (429).
    case tooManyForClient(limit: Int)
    /// The chosen id is in use; ids are random, so a retry succeeds (503).
    case duplicateID
    /// A retry (same `RDLM-Request-Id`) of an acquire that is still waiting on a connection
    /// this daemon has not yet seen close (503).
    case requestInProgress
}

/// The backend cannot decide now: its store is unreachable or has no quorum, say. The
/// request is answered 503 with `reason`, and nothing was changed.
public struct LockServiceUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// The seam between the HTTP layer and the lock state. The endpoints talk only to this,
/// so a second implementation (etcd, shared by several daemons) plugs in without touching
/// them.
///
/// Every answer is a future on the caller's event loop, NIO's own asynchronous primitive:
/// the local service answers without leaving the loop or allocating a task, and a remote
/// one completes its promise whenever its store answers (`completeWithTask` bridges
/// async code). A future fails with `LockServiceUnavailable` when the backend cannot
/// decide; any other failure is answered 503 as well, and logged.
public protocol LockService: Sendable {
    /// Asks for a lock. The future completes when it is granted, refused, times out or is
    /// deleted, which may be long after the call. `id` is chosen by the caller so that it can
    /// `abandon` the request if its client leaves first; a client may choose it too
    /// (`RDLM-Request-Id`), and then a second acquire of a lock it already holds on that
    /// resource is the same request, answered with that lock, not a second one.
    func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome>
    /// The client of a pending acquire went away: drop the request so it never becomes a
    /// holder. Its future completes with `.abandoned` (or with the grant that won the race,
    /// which the caller then releases).
    func abandon(_ id: LockID, on resource: String)
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
    /// What serving locks depends on, each checked now, for `GET /ready`: `accepting`
    /// (false once shutdown began) first, then the backend's own (its journal, its etcd
    /// quorum). Never fails; a check that cannot finish in time is reported not ok.
    func readiness(eventLoop: any EventLoop) -> EventLoopFuture<[ReadinessCheck]>
    /// Locks held, requests waiting and resources, for the gauges of `GET /metrics`: the
    /// whole table in memory; on etcd, what this daemon granted and has waiting.
    func metricsLevels() -> ServerMetrics.Levels
    /// Answers every pending acquire with `.shuttingDown` and refuses new ones.
    func shutdown()
}

/// A lock service that publishes every change to a `LockEventHub`, for `GET /events`.
protocol LockEventSource: LockService {
    /// Registers an event stream with `hub` and returns what it starts with (a snapshot, or
    /// the changes after `lastEventID`), atomically with the changes it will be sent.
    /// - Throws: when the backend cannot follow the changes now (etcd unreachable): 503.
    func subscribe(_ subscription: EventSubscription, to hub: LockEventHub, lastEventID: String?) throws(LockServiceUnavailable) -> LockEventHub.Opening
}
