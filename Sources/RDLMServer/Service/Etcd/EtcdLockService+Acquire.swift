import NIOCore
import RDLMCore
import RDLMEtcd

/// An acquire: one transaction that grants it or queues it, a retry that adopts its
/// granted key, and the cleanup of an answer that was lost.
extension EtcdLockService {
    public func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome> {
        let promise = eventLoop.makePromise(of: AcquireOutcome.self)
        acquire(request, on: resource, id: id, promise: promise, attempt: 1)
        return promise.futureResult
    }

    func acquire(_ request: LockRequest, on resource: String, id: LockID, promise: EventLoopPromise<AcquireOutcome>, attempt: Int) {
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
        holderLease(until: granted.expiresMicroseconds ?? now).flatMap { [batcher, space] lease in
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
            return batcher.txn(EtcdTxn(
                compare: [EtcdCompare(key: key, result: .equal, target: .version(0))],
                success: [.txn(grantOrQueue)],
                failure: [.range(key: key, rangeEnd: nil)]), on: resource)
        }.whenComplete { result in
            self.acquired(
                result, request: request, resource: resource, id: id, key: key, waiting: waiting, granted: granted,
                session: session, promise: promise, attempt: attempt)
        }
    }

    /// Whether an acquire's transaction queued its request.
    static func queued(_ result: Result<EtcdTxnResult, any Error>) -> Bool {
        guard case .success(let txn) = result, txn.succeeded, case .txn(let inner)? = txn.responses.first else { return false }
        return !inner.succeeded
    }

    enum AcquireRefusalOrStop: Error {
        case stop(AcquireOutcome)
        case unavailable(LockServiceUnavailable)
    }

    func acquired(
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
            if waits { state.withLock { finishLoading(resource, &$0) } }
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
                if waits { state.withLock { finishLoading(resource, &$0) } }
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
    func adopt(_ existing: EtcdKeyValue, record: EtcdLockRecord, request: LockRequest, resource: String, id: LockID, promise: EventLoopPromise<AcquireOutcome>, attempt: Int) {
        let wall = WallClock()
        guard let expires = record.expiresMicroseconds, expires > wall.microseconds(clock.now) else {
            return promise.succeed(.waitTimedOut)
        }
        var adopted = record
        adopted.daemon = name
        let mine = adopted
        batcher.txn(EtcdTxn(
            compare: [EtcdCompare(key: existing.key, result: .equal, target: .modRevision(existing.modRevision))],
            success: [.put(key: existing.key, value: mine.bytes, lease: existing.lease)],
            failure: []), on: resource
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
}
