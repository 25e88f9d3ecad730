import Logging
import NIOCore
import RDLMCore
import RDLMEtcd
import Synchronization

/// `--etcd-endpoints` and its companions.
public struct EtcdSettings: Sendable, Equatable {
    /// Client URLs of the etcd cluster's members.
    public var endpoints: [String]
    /// Every daemon given the same cluster and prefix serves one lock space.
    public var prefix: String
    /// The lease that carries this daemon's waiters, in seconds (etcd makes it at least 2):
    /// the waiters of a daemon that died leave their queues within it, plus etcd's 0.5 s check.
    public var sessionTTL: Int64
    /// How long one etcd request may take before the answer is 503.
    public var requestTimeout: Duration

    /// The shortest holder lease asked for, in seconds: etcd's own minimum (2 s). Tests make
    /// it long, to tell the daemon's timers from etcd's leases without timing them.
    public var minimumHolderLeaseTTL: Int64 = 2
    /// `--etcd-events`: keep a mirror of the lock space, with a watch of its own, so that
    /// `GET /events` works. Off by default: that watch carries every write to the lock space
    /// and costs lock throughput (docs/benchmarks.md).
    public var events = false

    public init(endpoints: [String], prefix: String = "/rdlm/", sessionTTL: Int64 = 2, requestTimeout: Duration = .seconds(2)) {
        self.endpoints = endpoints
        self.prefix = prefix
        self.sessionTTL = sessionTTL
        self.requestTimeout = requestTimeout
    }
}

/// The lock space in etcd, shared by every daemon given the same cluster and prefix
/// (docs/etcd-backend.md has the design and why it is safe).
///
/// - One transaction per acquire grants it or queues it, in etcd's commit order.
/// - This daemon grants only its own waiters, from a view (`EtcdQueue`) of the resources
///   where it has some: read with each acquire that queues, then kept by one watch over the
///   lock space that carries deletes only (a key written later is behind every waiter here,
///   and a key written again keeps its place, so puts cannot change whether one may hold, and
///   leaving them out halves what etcd sends every daemon); every grant compares the
///   waiter's own create revision, so a daemon whose waiter is gone (its session expired
///   while it was paused or cut off) cannot grant it.
/// - Its timers end its waits and the lifetimes it granted precisely; holder leases end them
///   anyway, a little later, if it dies; its waiters live on its session lease.
///
/// State is behind one mutex; promises are completed and etcd called after letting go of it.
public final class EtcdLockService: LockService {
    typealias Effect = @Sendable () -> Void

    /// An acquire parked here.
    struct Waiter: Sendable {
        var promise: EventLoopPromise<AcquireOutcome>
        var resource: String
        var mode: LockMode
        var key: String
        /// Its key's create revision: its place in the queue, and its token once granted.
        var revision: Int64
        var record: EtcdLockRecord
        /// The session lease its key lives on.
        var lease: Int64
        var deadline: (any ScheduledWake)?
        /// A grant is in flight: its answer, not the deadline or a delete event, decides.
        var granting = false
    }

    /// A lock whose last version this daemon wrote: its timer ends it on time.
    struct Holder: Sendable {
        var modRevision: Int64
        var client: String?
        /// When it was granted (wall clock, µs), for the time-held histogram.
        var grantedMicroseconds: Int64?
        var wake: any ScheduledWake
    }

    /// One resource's queue, kept while this daemon has waiters there.
    struct View: Sendable {
        var queue = EtcdQueue()
        /// The revision the queue was read at; events up to it are in it already.
        var revision: Int64 = -1
        /// Reads of the resource in flight, and the events seen since the first began, so
        /// that a read can be brought up to date whichever of it and the events came first.
        var loading = 0
        var stash: [EtcdEvent] = []
        var waiters: Set<LockID> = []
    }

    struct State: Sendable {
        var waiters: [LockID: Waiter] = [:]
        var holders: [String: Holder] = [:]
        var views: [String: View] = [:]
        /// This daemon's session lease, nil while it has none.
        var session: Int64?
        var sessionRenewed: ContinuousClock.Instant = .now
        var watch: EtcdWatch?
        /// The first revision the current watch delivers: a view read before it misses events.
        var watchFrom: Int64 = .max
        /// Holder leases by the second they end in, shared by the locks ending then.
        var leases: [Int64: EventLoopFuture<Int64>] = [:]
        /// Deletes that could not be made (etcd unreachable), retried until they are.
        var pendingDeletes: [EtcdTxn] = []
        /// Session leases given up while etcd was unreachable: revoking them deletes the
        /// waiting keys they still carry.
        var pendingRevokes: [Int64] = []
        /// Acquires that may wait whose transaction is in flight, and whether their client
        /// left meanwhile: then the waiter leaves as soon as it is queued.
        var queueing: [LockID: Bool] = [:]
        var isShuttingDown = false
    }

    let etcd: EtcdClient
    /// Every write of a lock goes through it: group commit.
    let batcher: EtcdWriteBatcher
    let space: EtcdLockSpace
    let settings: EtcdSettings
    /// Written into every version this daemon writes.
    let name: String
    let limits: LockTableLimits
    let clock: any LockClock
    let logger: Logger
    let metrics: ServerMetrics?
    let state = Mutex(State())
    /// A linearizable read, for `GET /ready`: it needs a leader and a quorum.
    let quorumProbe: SharedProbe
    /// The lock space mirrored for `GET /events`, when this daemon serves them.
    let mirror: EtcdEventMirror?

    /// Connects in the background: until a session lease and the watch are in place,
    /// acquires that would wait get 503. `ready` completes once they are.
    /// With `events`, every change in the lock space, through any daemon, is published there.
    init(settings: EtcdSettings, limits: LockTableLimits, clock: any LockClock, group: any EventLoopGroup, metrics: ServerMetrics? = nil, events: LockEventHub?, logger: Logger) {
        self.metrics = metrics
        self.settings = settings
        self.space = EtcdLockSpace(prefix: settings.prefix)
        self.limits = limits
        self.clock = clock
        self.logger = logger
        self.name = String(LockID.random().description.prefix(16))
        var requestFinished: (@Sendable (Duration) -> Void)?
        if let timer = metrics?.etcdRequestTime { requestFinished = { timer.recordInterval($0) } }
        self.etcd = EtcdClient(
            endpoints: settings.endpoints, eventLoopGroup: group, requestTimeout: settings.requestTimeout, logger: logger,
            requestFinished: requestFinished)
        self.batcher = EtcdWriteBatcher(etcd: etcd)
        self.quorumProbe = SharedProbe { [etcd, space] eventLoop in
            etcd.range(space.prefix + "ready").map { _ -> String? in nil }
                .recover { Self.unavailable($0).reason }
                .hop(to: eventLoop)
        }
        self.mirror = events.map { [etcd, space] in EtcdEventMirror(etcd: etcd, space: space, hub: $0, clock: clock, logger: logger) }
        startUpkeep()
        mirror?.start()
    }

    public convenience init(settings: EtcdSettings, limits: LockTableLimits, clock: any LockClock, group: any EventLoopGroup, metrics: ServerMetrics? = nil, logger: Logger) {
        self.init(settings: settings, limits: limits, clock: clock, group: group, metrics: metrics, events: nil, logger: logger)
    }

    /// Waits until this daemon has a session lease and a watch, or `timeout` passes.
    public func ready(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.session != nil && $0.watch != nil }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Locks held or waiting through this daemon.
    public var lockCount: Int { state.withLock { $0.waiters.count + $0.holders.count } }

    public func metricsLevels() -> ServerMetrics.Levels {
        let (holderKeys, waiting, waitedOn) = state.withLock { state in
            (Array(state.holders.keys), state.waiters.count, Array(state.views.keys))
        }
        let resources = Set(holderKeys.compactMap { space.parse($0)?.resource }).union(waitedOn)
        return ServerMetrics.Levels(held: holderKeys.count, waiting: waiting, resources: resources.count)
    }

    /// A hold this daemon timed ended through it (released here, or expired on its timer).
    func holdEnded(_ holder: Holder, expired: Bool) {
        guard let metrics, let granted = holder.grantedMicroseconds else { return }
        let heldFor = Duration.microseconds(max(0, WallClock().microseconds(clock.now) - granted))
        metrics.holdEnded(after: heldFor, expired: expired)
    }

    func run(_ effects: [Effect]) {
        for effect in effects { effect() }
    }

    static func unavailable(_ error: any Error) -> LockServiceUnavailable {
        if let error = error as? LockServiceUnavailable { return error }
        if let error = error as? EtcdError { return LockServiceUnavailable("etcd: \(error.reason)") }
        return LockServiceUnavailable("etcd: \(error)")
    }

    // MARK: Watch events

    func watched(_ update: EtcdWatchUpdate) {
        switch update {
        case .events(_, let events):
            run(state.withLock { state in
                var touched: Set<String> = []
                var effects: [Effect] = []
                for event in events {
                    guard let parsed = space.parse(event.kv.key) else { continue }
                    effects += noteDeleted(event, &state)
                    if event.kind == .delete, let waiter = state.waiters[parsed.id], waiter.key == event.kv.key, !waiter.granting {
                        effects += drop(parsed.id, waiterDeleted(waiter, state), deleteKey: false, &state)
                    }
                    if var view = state.views[parsed.resource] {
                        apply(event, to: &view)
                        state.views[parsed.resource] = view
                        touched.insert(parsed.resource)
                    }
                }
                for resource in touched { effects += grants(on: resource, &state) }
                return effects
            })
        case .progress:
            break
        case .ended(let error):
            logger.warning("etcd watch ended, restarting it", metadata: ["reason": "\(error.reason)"])
            state.withLock { $0.watch = nil }
            startWatch()
        }
    }

    /// A waiter's key was deleted: by a release of its URL or an admin (409), or by etcd
    /// because this daemon's session lease expired (503), which is what a session not
    /// renewed on time means.
    func waiterDeleted(_ waiter: Waiter, _ state: State) -> Result<AcquireOutcome, LockServiceUnavailable> {
        let overdue = clock.now - state.sessionRenewed > .milliseconds(settings.sessionTTL * 600)
        guard waiter.lease != state.session || overdue else { return .success(.deleted) }
        return .failure(LockServiceUnavailable("etcd: this daemon's session lease expired while the request waited (etcd unreachable or the daemon paused)"))
    }

    /// A lock this daemon times was deleted (released or deleted through another daemon): its
    /// timer is no longer needed. The watch has no puts, so a refresh through another daemon is
    /// not seen here: this daemon's timer then finds the version it wrote gone and deletes
    /// nothing.
    private func noteDeleted(_ event: EtcdEvent, _ state: inout State) -> [Effect] {
        guard event.kind == .delete, let holder = state.holders.removeValue(forKey: event.kv.key) else { return [] }
        return [{
            holder.wake.cancel()
            // Released through this daemon or another, or deleted by an admin: the delete
            // event does not say which, and only expiries are counted apart.
            self.holdEnded(holder, expired: false)
        }]
    }

    // MARK: Shutdown

    public func shutdown() {
        let (waiters, holders, watch) = state.withLock { state in
            state.isShuttingDown = true
            defer {
                state.waiters = [:]
                state.holders = [:]
                state.watch = nil
            }
            return (Array(state.waiters.values), Array(state.holders.values), state.watch)
        }
        watch?.cancel()
        mirror?.stop()
        for holder in holders { holder.wake.cancel() }
        for waiter in waiters {
            waiter.deadline?.cancel()
            waiter.promise.succeed(.shuttingDown)
        }
    }

    /// After `shutdown`: gives back the session lease, which deletes this daemon's waiting
    /// keys at once instead of at its expiry, and closes the connections to etcd.
    public func close() async {
        if let session = state.withLock({ $0.session }) {
            _ = try? await etcd.revokeLease(session).get()
        }
        _ = try? await etcd.shutdown().get()
    }
}
