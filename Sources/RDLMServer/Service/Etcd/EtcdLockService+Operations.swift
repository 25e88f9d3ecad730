import NIOCore
import RDLMCore
import RDLMEtcd

/// The requests on existing locks, answered from etcd (so through any daemon).
extension EtcdLockService {
    /// The keys a lock may have: its URL does not say its mode.
    private func keys(_ id: LockID, on resource: String) -> [String] {
        [space.key(resource, .exclusive, id), space.key(resource, .shared, id)]
    }

    /// Reads a lock's key, whichever its mode.
    private func read(_ id: LockID, on resource: String) -> EventLoopFuture<(EtcdKeyValue, EtcdLockRecord, LockMode)?> {
        let keys = keys(id, on: resource)
        return etcd.txn(EtcdTxn(compare: [], success: keys.map { .range(key: $0, rangeEnd: nil) }, failure: [])).map { txn in
            for (index, response) in txn.responses.enumerated() {
                guard case .range(let found) = response, let kv = found.kvs.first, let record = EtcdLockRecord(bytes: kv.value) else { continue }
                return (kv, record, index == 0 ? LockMode.exclusive : .shared)
            }
            return nil
        }
    }

    /// `accepting`, then `etcd-quorum` (a linearizable read answers) and `etcd-session`
    /// (this daemon holds its session lease and watches the lock space: without them,
    /// acquires that would wait get 503).
    public func readiness(eventLoop: any EventLoop) -> EventLoopFuture<[ReadinessCheck]> {
        let (shuttingDown, session, watching) = state.withLock { ($0.isShuttingDown, $0.session, $0.watch != nil) }
        let sessionCheck: ReadinessCheck
        switch (session, watching) {
        case (let lease?, true): sessionCheck = ReadinessCheck("etcd-session", ok: true, "session lease \(lease) held, lock space watched")
        case (_?, false): sessionCheck = ReadinessCheck("etcd-session", ok: false, "the watch of the lock space is being restarted")
        case (nil, _): sessionCheck = ReadinessCheck("etcd-session", ok: false, "no session lease: etcd unreachable or without a quorum")
        }
        return quorumProbe.check(eventLoop: eventLoop).map { failure in
            let quorum = failure.map { ReadinessCheck("etcd-quorum", ok: false, $0) }
                ?? ReadinessCheck("etcd-quorum", ok: true, "a linearizable read answered")
            return [.accepting(shuttingDown: shuttingDown), quorum, sessionCheck]
        }
    }

    public func release(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let keys = keys(id, on: resource)
        return batcher.txn(EtcdTxn(compare: [], success: keys.map { .deleteRange(key: $0, rangeEnd: nil) }, failure: []), on: resource)
            .flatMapErrorThrowing { throw Self.unavailable($0) }
            .map { txn in
                let deleted = txn.responses.contains { response in
                    if case .deleteRange(let count, _) = response { return count > 0 }
                    return false
                }
                // The watch says so too; answering here does not wait for it.
                self.run(self.state.withLock { state in self.forget(id, keys: keys, &state) })
                return deleted
            }
            .hop(to: eventLoop)
    }

    /// A lock deleted through this daemon: its timer and its parked request, if here, go.
    private func forget(_ id: LockID, keys: [String], _ state: inout State) -> [Effect] {
        var effects: [Effect] = []
        for key in keys {
            if let holder = state.holders.removeValue(forKey: key) {
                effects.append {
                    holder.wake.cancel()
                    self.holdEnded(holder, expired: false)
                }
            }
        }
        if let waiter = state.waiters[id], keys.contains(waiter.key), !waiter.granting {
            effects += drop(id, .success(.deleted), deleteKey: false, &state)
        }
        return effects
    }

    public func refresh(_ id: LockID, on resource: String, lifetime: Duration?, eventLoop: any EventLoop) -> EventLoopFuture<LockTable.RefreshResult> {
        refresh(id, on: resource, lifetime: lifetime, attempt: 1).flatMapErrorThrowing { throw Self.unavailable($0) }.hop(to: eventLoop)
    }

    /// Writes the lock again with a new expiry and a holder lease that ends after it,
    /// comparing the version read, so that a release in between is not undone. The key keeps
    /// its create revision: its place and its token.
    private func refresh(_ id: LockID, on resource: String, lifetime: Duration?, attempt: Int) -> EventLoopFuture<LockTable.RefreshResult> {
        read(id, on: resource).flatMap { found -> EventLoopFuture<LockTable.RefreshResult> in
            guard let (kv, record, mode) = found else { return self.etcd.eventLoop.makeSucceededFuture(.notFound) }
            guard let granted = record.grantedMicroseconds else { return self.etcd.eventLoop.makeSucceededFuture(.notActive) }
            let wall = WallClock()
            // Past its lifetime, a lock is gone even while its key waits for its holder lease
            // (its daemon died): a refresh never brings it back.
            guard let expires = record.expiresMicroseconds, expires > wall.microseconds(self.clock.now) else {
                return self.etcd.eventLoop.makeSucceededFuture(.notFound)
            }
            var renewed = record
            if let lifetime { renewed.lifetimeMicroseconds = lifetime.microseconds }
            renewed.daemon = self.name
            renewed.grantedMicroseconds = granted
            renewed.expiresMicroseconds = wall.microseconds(self.clock.now) + renewed.lifetimeMicroseconds
            let written = renewed
            return self.holderLease(until: written.expiresMicroseconds ?? 0).flatMap { lease in
                self.batcher.txn(EtcdTxn(
                    compare: [EtcdCompare(key: kv.key, result: .equal, target: .modRevision(kv.modRevision))],
                    success: [.put(key: kv.key, value: written.bytes, lease: lease)],
                    failure: []), on: resource)
            }.flatMap { txn in
                guard txn.succeeded else {
                    // Written or deleted since the read: read again.
                    guard attempt < 3 else {
                        return self.etcd.eventLoop.makeFailedFuture(LockServiceUnavailable("etcd: the lock kept changing during the refresh; retry"))
                    }
                    return self.refresh(id, on: resource, lifetime: lifetime, attempt: attempt + 1)
                }
                self.run(self.state.withLock { state in [self.own(kv.key, modRevision: txn.revision, record: written, &state)] })
                return self.etcd.eventLoop.makeSucceededFuture(
                    .refreshed(written.lockInfo(id: id, resource: resource, mode: mode, token: kv.createRevision, wall: wall)))
            }
        }
    }

    public func lock(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<LockInfo?> {
        read(id, on: resource).map { found in
            let wall = WallClock()
            let now = wall.microseconds(self.clock.now)
            return found.flatMap { kv, record, mode in
                record.hasEnded(at: now) ? nil : record.lockInfo(id: id, resource: resource, mode: mode, token: kv.createRevision, wall: wall)
            }
        }
        .flatMapErrorThrowing { throw Self.unavailable($0) }
        .hop(to: eventLoop)
    }

    public func resourceNames(eventLoop: any EventLoop) -> EventLoopFuture<[String]> {
        let all = space.locksPrefix
        return etcd.range(all, rangeEnd: EtcdKey.prefixEnd(all)).map { read in
            var names: [String] = []
            // Keys come sorted, so one resource's are together.
            for kv in read.result.kvs {
                if let resource = self.space.resource(of: kv.key), names.last != resource { names.append(resource) }
            }
            return names
        }
        .flatMapErrorThrowing { throw Self.unavailable($0) }
        .hop(to: eventLoop)
    }

    /// Holders first, then waiters in queue order, as the local table lists them.
    public func locks(on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<[LockInfo]> {
        let whole = space.resourcePrefix(resource)
        return etcd.range(whole, rangeEnd: EtcdKey.prefixEnd(whole), sort: .createRevisionAscending).map { read in
            let wall = WallClock()
            let now = wall.microseconds(self.clock.now)
            let locks = read.result.kvs.compactMap { kv -> LockInfo? in
                guard let parsed = self.space.parse(kv.key), let record = EtcdLockRecord(bytes: kv.value), !record.hasEnded(at: now) else { return nil }
                return record.lockInfo(id: parsed.id, resource: resource, mode: parsed.mode, token: kv.createRevision, wall: wall)
            }
            return locks.filter(\.isActive) + locks.filter { !$0.isActive }
        }
        .flatMapErrorThrowing { throw Self.unavailable($0) }
        .hop(to: eventLoop)
    }

    public func deleteResource(_ resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let whole = space.resourcePrefix(resource)
        return etcd.deleteRange(whole, rangeEnd: EtcdKey.prefixEnd(whole)).map { $0.deleted > 0 }
            .flatMapErrorThrowing { throw Self.unavailable($0) }
            .hop(to: eventLoop)
    }

    public func deleteAll(eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let all = space.locksPrefix
        return etcd.deleteRange(all, rangeEnd: EtcdKey.prefixEnd(all)).map { _ in }
            .flatMapErrorThrowing { throw Self.unavailable($0) }
            .hop(to: eventLoop)
    }
}
