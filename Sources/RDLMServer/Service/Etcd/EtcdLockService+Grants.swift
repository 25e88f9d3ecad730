import NIOCore
import RDLMCore
import RDLMEtcd

/// The views this daemon keeps of the resources where it has waiters, the grants made
/// from them, and the timers that end waits and lifetimes.
extension EtcdLockService {
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
        // Deletes only: see the type's notes on why puts do not matter to a view.
        guard event.kind == .delete, event.kv.modRevision > view.revision, let parsed = space.parse(event.kv.key) else { return }
        view.queue.remove(parsed.id, parsed.mode)
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
    func grant(_ id: LockID, _ waiter: Waiter) {
        let wall = WallClock()
        let granted = waiter.record.granted(at: wall.microseconds(clock.now), by: name)
        holderLease(until: granted.expiresMicroseconds ?? 0).flatMap { [batcher] lease in
            batcher.txn(EtcdTxn(
                compare: [EtcdCompare(key: waiter.key, result: .equal, target: .createRevision(waiter.revision))],
                success: [.put(key: waiter.key, value: granted.bytes, lease: lease)],
                failure: []), on: waiter.resource)
        }.whenComplete { result in
            let effects = self.state.withLock { state -> [Effect] in
                guard let waiter = state.waiters.removeValue(forKey: id) else { return [] }
                waiter.deadline?.cancel()
                state.views[waiter.resource]?.waiters.remove(id)
                self.dropViewIfUnused(waiter.resource, &state)
                switch result {
                case .success(let txn) where txn.succeeded:
                    let lock = granted.lockInfo(id: id, resource: waiter.resource, mode: waiter.mode, token: waiter.revision, wall: wall)
                    return [self.own(waiter.key, modRevision: txn.revision, record: granted, &state), { waiter.promise.succeed(.granted(lock, afterWaiting: true)) }]
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
        state.holders[key] = Holder(modRevision: modRevision, client: record.client, grantedMicroseconds: record.grantedMicroseconds, wake: wake)
        return { previous?.wake.cancel() }
    }

    func lifetimeEnded(_ key: String, modRevision: Int64) {
        let due = state.withLock { state -> Holder? in
            guard let holder = state.holders[key], holder.modRevision == modRevision else { return nil }
            state.holders[key] = nil
            return holder
        }
        guard let due else { return }
        holdEnded(due, expired: true)
        // Only the version this daemon wrote: a refresh through another daemon is not undone.
        let delete = EtcdTxn(
            compare: [EtcdCompare(key: key, result: .equal, target: .modRevision(modRevision))],
            success: [.deleteRange(key: key, rangeEnd: nil)], failure: [])
        batcher.txn(delete, on: space.parse(key)?.resource ?? key).whenFailure { _ in
            self.state.withLock { $0.pendingDeletes.append(delete) }
        }
    }

    func waitEnded(_ id: LockID) {
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
                batcher.txn(delete, on: waiter.resource).whenFailure { _ in self.state.withLock { $0.pendingDeletes.append(delete) } }
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
}
