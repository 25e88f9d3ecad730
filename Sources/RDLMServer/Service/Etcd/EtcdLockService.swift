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
///   where it has some, kept by one watch over the lock space; every grant compares the
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
    let space: EtcdLockSpace
    let settings: EtcdSettings
    /// Written into every version this daemon writes.
    let name: String
    let limits: LockTableLimits
    let clock: any LockClock
    let logger: Logger
    let state = Mutex(State())

    /// Connects in the background: until a session lease and the watch are in place,
    /// acquires that would wait get 503. `ready` completes once they are.
    public init(settings: EtcdSettings, limits: LockTableLimits, clock: any LockClock, group: any EventLoopGroup, logger: Logger) {
        self.settings = settings
        self.space = EtcdLockSpace(prefix: settings.prefix)
        self.limits = limits
        self.clock = clock
        self.logger = logger
        self.name = String(LockID.random().description.prefix(16))
        self.etcd = EtcdClient(endpoints: settings.endpoints, eventLoopGroup: group, requestTimeout: settings.requestTimeout, logger: logger)
        startUpkeep()
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

    func run(_ effects: [Effect]) {
        for effect in effects { effect() }
    }

    static func unavailable(_ error: any Error) -> LockServiceUnavailable {
        if let error = error as? LockServiceUnavailable { return error }
        if let error = error as? EtcdError { return LockServiceUnavailable("etcd: \(error.reason)") }
        return LockServiceUnavailable("etcd: \(error)")
    }

    // MARK: Acquire

    public func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome> {
        let promise = eventLoop.makePromise(of: AcquireOutcome.self)
        acquire(request, on: resource, id: id, promise: promise, attempt: 1)
        return promise.futureResult
    }

    private func acquire(_ request: LockRequest, on resource: String, id: LockID, promise: EventLoopPromise<AcquireOutcome>, attempt: Int) {
        let waits = request.wait > .zero
        let admitted = state.withLock { state -> Result<Int64, AcquireRefusalOrStop> in
            if state.isShuttingDown { return .failure(.stop(.shuttingDown)) }
            if let client = request.client {
                let count = state.waiters.values.count { $0.record.client == client } + state.holders.values.count { $0.client == client }
                if count >= limits.maxLocksPerClient { return .failure(.stop(.refused(.tooManyForClient(limit: limits.maxLocksPerClient)))) }
            }
            if state.waiters.count + state.holders.count >= limits.maxLocks {
                return .failure(.stop(.refused(.tableFull(limit: limits.maxLocks))))
            }
            guard waits else { return .success(0) }
            guard let session = state.session else {
                return .failure(.unavailable(LockServiceUnavailable("etcd: this daemon has no session with etcd yet (connecting)")))
            }
            state.views[resource, default: View()].loading += 1
            state.queueing[id] = false
            return .success(session)
        }
        let session: Int64
        switch admitted {
        case .failure(.stop(let outcome)): return promise.succeed(outcome)
        case .failure(.unavailable(let error)): return promise.fail(error)
        case .success(let lease): session = lease
        }
        let wall = WallClock()
        let now = wall.microseconds(clock.now)
        let key = space.key(resource, request.mode, id)
        let waiting = EtcdLockRecord(request, daemon: name, now: now)
        let granted = waiting.granted(at: now, by: name)
        holderLease(until: granted.expiresMicroseconds ?? now).flatMap { [etcd, space] lease in
            let blocking = space.blockingRange(resource, request.mode)
            let whole = space.resourcePrefix(resource)
            let queue: [EtcdOp] = waits
                ? [.put(key: key, value: waiting.bytes, lease: session), .range(key: whole, rangeEnd: EtcdKey.prefixEnd(whole), keysOnly: true)]
                : []
            // Every key there is older than this one, so "nothing blocks me now" is exactly
            // "no blocking key exists"; an empty range compares as one key of revision 0.
            let grantOrQueue = EtcdTxn(
                compare: [EtcdCompare(key: blocking.key, rangeEnd: blocking.end, result: .equal, target: .createRevision(0))],
                success: [.put(key: key, value: granted.bytes, lease: lease)],
                failure: queue)
            // The key exists already: a retry of a request the client named (RDLM-Request-Id).
            return etcd.txn(EtcdTxn(
                compare: [EtcdCompare(key: key, result: .equal, target: .version(0))],
                success: [.txn(grantOrQueue)],
                failure: [.range(key: key, rangeEnd: nil)]))
        }.whenComplete { result in
            self.acquired(
                result, request: request, resource: resource, id: id, key: key, waiting: waiting, granted: granted,
                session: session, promise: promise, attempt: attempt)
        }
    }

    /// Whether an acquire's transaction queued its request.
    private static func queued(_ result: Result<EtcdTxnResult, any Error>) -> Bool {
        guard case .success(let txn) = result, txn.succeeded, case .txn(let inner)? = txn.responses.first else { return false }
        return !inner.succeeded
    }

    private enum AcquireRefusalOrStop: Error {
        case stop(AcquireOutcome)
        case unavailable(LockServiceUnavailable)
    }

    private func acquired(
        _ result: Result<EtcdTxnResult, any Error>, request: LockRequest, resource: String, id: LockID, key: String,
        waiting: EtcdLockRecord, granted: EtcdLockRecord, session: Int64, promise: EventLoopPromise<AcquireOutcome>, attempt: Int
    ) {
        let waits = request.wait > .zero
        let wall = WallClock()
        // Not queued: nothing is left to drop if the client left meanwhile (a grant is
        // answered, and released by the caller if undeliverable). A queued one is parked below.
        if waits, !Self.queued(result) {
            state.withLock { _ = $0.queueing.removeValue(forKey: id) }
        }
        switch result {
        case .failure(let error):
            let effects = state.withLock { state -> [Effect] in
                if waits { finishLoading(resource, &state) }
                // Sent, not answered: the key may be there, and nobody will be told of it.
                if case EtcdError.outcomeUnknown = error {
                    state.pendingDeletes.append(Self.deleteIfUnchanged(key, values: [waiting.bytes, granted.bytes]))
                }
                if case EtcdError.rejected(let reason) = error, waits, reason.contains("lease") {
                    return [sessionLost("etcd: this daemon's session lease is gone (\(reason))", &state)]
                }
                return []
            }
            run(effects)
            promise.fail(Self.unavailable(error))

        case .success(let txn) where !txn.succeeded:
            if waits { run(state.withLock { state in finishLoading(resource, &state); return [] }) }
            guard case .range(let found)? = txn.responses.first, let existing = found.kvs.first,
                  let record = EtcdLockRecord(bytes: existing.value)
            else {
                // Gone between the compare and now: ask again, as new.
                guard attempt < 3 else { return promise.fail(LockServiceUnavailable("etcd: the lock's key kept changing; retry")) }
                return acquire(request, on: resource, id: id, promise: promise, attempt: attempt + 1)
            }
            guard record.isGranted else { return promise.succeed(.refused(.requestInProgress)) }
            adopt(existing, record: record, request: request, resource: resource, id: id, promise: promise, attempt: attempt)

        case .success(let txn):
            guard case .txn(let inner)? = txn.responses.first else {
                return promise.fail(LockServiceUnavailable("etcd: unexpected answer to an acquire"))
            }
            if inner.succeeded {
                let lock = granted.lockInfo(id: id, resource: resource, mode: request.mode, token: txn.revision, wall: wall)
                if waits { run(state.withLock { state in finishLoading(resource, &state); return [] }) }
                run(state.withLock { state in [own(key, modRevision: txn.revision, record: granted, &state)] })
                return promise.succeed(.granted(lock))
            }
            guard waits else { return promise.succeed(.waitTimedOut) }
            var kvs: [EtcdKeyValue] = []
            if inner.responses.count > 1, case .range(let found) = inner.responses[1] { kvs = found.kvs }
            let deadline = wall.instant(waiting.waitUntilMicroseconds * 1_000)
            let effects = state.withLock { state -> [Effect] in
                var effects = install(resource, kvs: kvs, revision: txn.revision, &state)
                let waiter = Waiter(
                    promise: promise, resource: resource, mode: request.mode, key: key, revision: txn.revision, record: waiting,
                    lease: session, deadline: clock.wake(at: deadline) { [weak self] in self?.waitEnded(id) })
                state.waiters[id] = waiter
                state.views[resource]?.waiters.insert(id)
                if state.queueing.removeValue(forKey: id) == true {
                    return effects + drop(id, .success(.abandoned), &state)
                }
                if state.isShuttingDown {
                    return effects + drop(id, .success(.shuttingDown), &state)
                }
                if let view = state.views[resource], view.queue.waiterCount > limits.maxWaitersPerResource {
                    effects += drop(id, .success(.refused(.tooManyWaiters(limit: limits.maxWaitersPerResource))), &state)
                    return effects
                }
                return effects + grants(on: resource, &state)
            }
            run(effects)
        }
    }

    /// A retried acquire found its lock granted (through another daemon, maybe one that
    /// died, or whose answer was lost): it rewrites the key as its own, so that a daemon
    /// cleaning up after the lost answer cannot delete it, and answers with it.
    private func adopt(_ existing: EtcdKeyValue, record: EtcdLockRecord, request: LockRequest, resource: String, id: LockID, promise: EventLoopPromise<AcquireOutcome>, attempt: Int) {
        let wall = WallClock()
        guard let expires = record.expiresMicroseconds, expires > wall.microseconds(clock.now) else {
            return promise.succeed(.waitTimedOut)
        }
        var adopted = record
        adopted.daemon = name
        let mine = adopted
        etcd.txn(EtcdTxn(
            compare: [EtcdCompare(key: existing.key, result: .equal, target: .modRevision(existing.modRevision))],
            success: [.put(key: existing.key, value: mine.bytes, lease: existing.lease)],
            failure: [])
        ).whenComplete { result in
            switch result {
            case .success(let txn) where txn.succeeded:
                self.run(self.state.withLock { state in [self.own(existing.key, modRevision: txn.revision, record: mine, &state)] })
                promise.succeed(.granted(mine.lockInfo(id: id, resource: resource, mode: request.mode, token: existing.createRevision, wall: wall)))
            case .success:
                guard attempt < 3 else { return promise.fail(LockServiceUnavailable("etcd: the lock's key kept changing; retry")) }
                self.acquire(request, on: resource, id: id, promise: promise, attempt: attempt + 1)
            case .failure(let error):
                promise.fail(Self.unavailable(error))
            }
        }
    }

    /// A delete of `key` that applies only while it holds one of `values`: the cleanup of
    /// a write whose answer was lost must not delete what someone wrote since.
    static func deleteIfUnchanged(_ key: String, values: [[UInt8]]) -> EtcdTxn {
        EtcdTxn(compare: [], success: values.map { value in
            .txn(EtcdTxn(compare: [EtcdCompare(key: key, result: .equal, target: .value(value))], success: [.deleteRange(key: key, rangeEnd: nil)], failure: []))
        }, failure: [])
    }

    // MARK: Views and grants

    /// A read of `resource` at `revision` came back: it becomes the view unless a newer one
    /// is there, and the events seen since the read was sent bring it up to date.
    func install(_ resource: String, kvs: [EtcdKeyValue], revision: Int64, _ state: inout State) -> [Effect] {
        guard var view = state.views[resource] else { return [] }
        if revision > view.revision {
            view.queue = EtcdQueue(kvs.compactMap { kv in
                space.parse(kv.key).map { EtcdQueue.Entry(revision: kv.createRevision, id: $0.id, mode: $0.mode) }
            })
            view.revision = revision
            for event in view.stash where event.kv.modRevision > revision {
                apply(event, to: &view)
            }
        }
        view.loading -= 1
        if view.loading == 0 { view.stash = [] }
        state.views[resource] = view
        // The watch starts after this read: the events in between would be missed.
        if revision + 1 < state.watchFrom, state.watchFrom != .max {
            return [reload(resource, &state)]
        }
        return []
    }

    /// Reads a resource again into its view.
    func reload(_ resource: String, _ state: inout State) -> Effect {
        state.views[resource, default: View()].loading += 1
        let whole = space.resourcePrefix(resource)
        return { [self] in
            etcd.range(whole, rangeEnd: EtcdKey.prefixEnd(whole)).whenComplete { result in
                self.run(self.state.withLock { state -> [Effect] in
                    switch result {
                    case .success(let read):
                        return self.install(resource, kvs: read.result.kvs, revision: read.revision, &state) + self.grants(on: resource, &state)
                    case .failure:
                        self.finishLoading(resource, &state)
                        // Tried again with the next watch restart or acquire; the view lags
                        // meanwhile, which makes grants late, never wrong.
                        return []
                    }
                })
            }
        }
    }

    func finishLoading(_ resource: String, _ state: inout State) {
        guard var view = state.views[resource] else { return }
        view.loading -= 1
        if view.loading == 0 { view.stash = [] }
        state.views[resource] = view
        dropViewIfUnused(resource, &state)
    }

    func dropViewIfUnused(_ resource: String, _ state: inout State) {
        if let view = state.views[resource], view.waiters.isEmpty, view.loading == 0 {
            state.views[resource] = nil
        }
    }

    func apply(_ event: EtcdEvent, to view: inout View) {
        if view.loading > 0 { view.stash.append(event) }
        guard event.kv.modRevision > view.revision, let parsed = space.parse(event.kv.key) else { return }
        switch event.kind {
        case .put: view.queue.insert(EtcdQueue.Entry(revision: event.kv.createRevision, id: parsed.id, mode: parsed.mode))
        case .delete: view.queue.remove(parsed.id, parsed.mode)
        }
    }

    /// Starts the grant of every waiter here that may hold now.
    func grants(on resource: String, _ state: inout State) -> [Effect] {
        guard let view = state.views[resource], !state.isShuttingDown else { return [] }
        var effects: [Effect] = []
        for id in view.waiters {
            guard var waiter = state.waiters[id], !waiter.granting, view.queue.mayHold(revision: waiter.revision) else { continue }
            waiter.granting = true
            state.waiters[id] = waiter
            effects.append { [self, waiter] in grant(id, waiter) }
        }
        return effects
    }

    /// A put that compares the waiter's own create revision: it fails, granting nothing, if
    /// the key went (released, deleted by an admin, or its session lease expired).
    private func grant(_ id: LockID, _ waiter: Waiter) {
        let wall = WallClock()
        let granted = waiter.record.granted(at: wall.microseconds(clock.now), by: name)
        holderLease(until: granted.expiresMicroseconds ?? 0).flatMap { [etcd] lease in
            etcd.txn(EtcdTxn(
                compare: [EtcdCompare(key: waiter.key, result: .equal, target: .createRevision(waiter.revision))],
                success: [.put(key: waiter.key, value: granted.bytes, lease: lease)],
                failure: []))
        }.whenComplete { result in
            let effects = self.state.withLock { state -> [Effect] in
                guard let waiter = state.waiters.removeValue(forKey: id) else { return [] }
                waiter.deadline?.cancel()
                state.views[waiter.resource]?.waiters.remove(id)
                self.dropViewIfUnused(waiter.resource, &state)
                switch result {
                case .success(let txn) where txn.succeeded:
                    let lock = granted.lockInfo(id: id, resource: waiter.resource, mode: waiter.mode, token: waiter.revision, wall: wall)
                    return [self.own(waiter.key, modRevision: txn.revision, record: granted, &state), { waiter.promise.succeed(.granted(lock)) }]
                case .success:
                    // The key went: released, deleted by an admin, or with an expired session.
                    let answer = self.waiterDeleted(waiter, state)
                    return [{ waiter.promise.completeWith(answer.mapError { $0 as any Error }) }]
                case .failure(let error):
                    state.pendingDeletes.append(Self.deleteIfUnchanged(waiter.key, values: [waiter.record.bytes, granted.bytes]))
                    return [{ waiter.promise.fail(Self.unavailable(error)) }]
                }
            }
            self.run(effects)
        }
    }

    /// This daemon wrote the lock's last version: its timer ends the lifetime on time.
    /// Returns the cancel of a timer it replaces.
    func own(_ key: String, modRevision: Int64, record: EtcdLockRecord, _ state: inout State) -> Effect {
        let previous = state.holders.removeValue(forKey: key)
        let expires = WallClock().instant((record.expiresMicroseconds ?? 0) * 1_000)
        let wake = clock.wake(at: expires) { [weak self] in self?.lifetimeEnded(key, modRevision: modRevision) }
        state.holders[key] = Holder(modRevision: modRevision, client: record.client, wake: wake)
        return { previous?.wake.cancel() }
    }

    private func lifetimeEnded(_ key: String, modRevision: Int64) {
        let due = state.withLock { state -> Bool in
            guard state.holders[key]?.modRevision == modRevision else { return false }
            state.holders[key] = nil
            return true
        }
        guard due else { return }
        // Only the version this daemon wrote: a refresh through another daemon is not undone.
        let delete = EtcdTxn(
            compare: [EtcdCompare(key: key, result: .equal, target: .modRevision(modRevision))],
            success: [.deleteRange(key: key, rangeEnd: nil)], failure: [])
        etcd.txn(delete).whenFailure { _ in
            self.state.withLock { $0.pendingDeletes.append(delete) }
        }
    }

    private func waitEnded(_ id: LockID) {
        run(state.withLock { state in
            guard let waiter = state.waiters[id], !waiter.granting else { return [] }
            return drop(id, .success(.waitTimedOut), &state)
        })
    }

    /// Answers a waiter here and deletes its key (while it is still the waiting version).
    func drop(_ id: LockID, _ answer: Result<AcquireOutcome, LockServiceUnavailable>, deleteKey: Bool = true, _ state: inout State) -> [Effect] {
        guard let waiter = state.waiters.removeValue(forKey: id) else { return [] }
        waiter.deadline?.cancel()
        state.views[waiter.resource]?.waiters.remove(id)
        dropViewIfUnused(waiter.resource, &state)
        var effects: [Effect] = [{ waiter.promise.completeWith(answer.mapError { $0 as any Error }) }]
        if deleteKey {
            let delete = Self.deleteIfUnchanged(waiter.key, values: [waiter.record.bytes])
            effects.append { [self] in
                etcd.txn(delete).whenFailure { _ in self.state.withLock { $0.pendingDeletes.append(delete) } }
            }
        }
        return effects
    }

    public func abandon(_ id: LockID, on resource: String) {
        // A grant in flight answers, and the caller releases what it gets.
        run(state.withLock { state in
            if state.queueing[id] != nil { state.queueing[id] = true }
            guard let waiter = state.waiters[id], !waiter.granting else { return [] }
            return drop(id, .success(.abandoned), &state)
        })
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
                    effects += noteOwnership(event, &state)
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

    /// A lock this daemon times is deleted, or written by another daemon (a refresh there):
    /// its timer is no longer needed.
    private func noteOwnership(_ event: EtcdEvent, _ state: inout State) -> [Effect] {
        guard let holder = state.holders[event.kv.key] else { return [] }
        if event.kind == .put, EtcdLockRecord(bytes: event.kv.value)?.daemon == name { return [] }
        state.holders[event.kv.key] = nil
        return [{ holder.wake.cancel() }]
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
