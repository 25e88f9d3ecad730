import NIOCore
import RDLMCore
import RDLMEtcd

/// What keeps an `EtcdLockService` connected: its session lease, the watch over the lock
/// space, holder leases, and deletes that wait for etcd to come back.
extension EtcdLockService {
    /// How often deletes that failed are tried again.
    static let retryInterval = Duration.milliseconds(500)

    func startUpkeep() {
        renewSession()
        startWatch()
        retryDeletes()
    }

    // MARK: Session

    /// Renews the session lease every third of its TTL, or makes one when there is none.
    private func renewSession() {
        let (session, stopped) = state.withLock { ($0.session, $0.isShuttingDown) }
        guard !stopped else { return }
        let next: @Sendable () -> Void = { [weak self] in
            guard let self else { return }
            _ = self.clock.wake(at: self.clock.now + .milliseconds(self.settings.sessionTTL * 1_000 / 3)) { [weak self] in
                self?.renewSession()
            }
        }
        guard let session else {
            etcd.grantLease(ttl: settings.sessionTTL).whenComplete { result in
                if case .success(let lease) = result {
                    self.state.withLock { state in
                        state.session = lease.id
                        state.sessionRenewed = self.clock.now
                    }
                    self.logger.info("etcd session lease \(lease.id) (TTL \(lease.ttl) s)")
                }
                next()
            }
            return
        }
        let sent = clock.now
        etcd.keepAlive(session).whenComplete { result in
            switch result {
            case .success:
                self.state.withLock { state in
                    if state.session == session { state.sessionRenewed = sent }
                }
            case .failure(let error):
                let effect = self.state.withLock { state -> Effect? in
                    guard state.session == session else { return nil }
                    if case EtcdError.rejected(let reason) = error {
                        return self.sessionLost("etcd: this daemon's session lease expired (\(reason))", &state)
                    }
                    // Not renewed for a whole TTL: its waiters may be gone from their queues.
                    if self.clock.now - state.sessionRenewed > .seconds(self.settings.sessionTTL) {
                        return self.sessionLost("etcd: this daemon could not renew its session lease for \(self.settings.sessionTTL) s (\((error as? EtcdError)?.reason ?? "\(error)"))", &state)
                    }
                    return nil
                }
                effect?()
            }
            next()
        }
    }

    /// The session is gone, or may be: every waiter here is answered 503 (their keys went with
    /// the lease, or go when it is revoked), and a new session is made at the next renewal.
    /// Called under the mutex.
    func sessionLost(_ reason: String, _ state: inout State) -> Effect {
        guard let session = state.session else { return {} }
        state.session = nil
        logger.warning("etcd session lease \(session) lost; answering this daemon's waiters 503", metadata: ["reason": "\(reason)"])
        var effects: [Effect] = []
        for (id, waiter) in state.waiters where waiter.lease == session && !waiter.granting {
            effects += drop(id, .failure(LockServiceUnavailable(reason)), deleteKey: false, &state)
        }
        // If it still exists (etcd only unreachable), revoking it deletes the waiting keys.
        state.pendingRevokes.append(session)
        return { [self, effects] in run(effects) }
    }

    // MARK: Watch

    /// Watches the whole lock space, its deletes only, from the current revision on. The views of resources
    /// with waiters here are read again after it starts: events before it went nowhere.
    func startWatch() {
        guard !state.withLock({ $0.isShuttingDown }) else { return }
        // One key no lock has: the answer's revision is what is wanted.
        etcd.range(space.locksPrefix).whenComplete { result in
            switch result {
            case .failure(let error):
                self.logger.debug("etcd watch not started yet", metadata: ["reason": "\(error)"])
                _ = self.clock.wake(at: self.clock.now + Self.retryInterval) { [weak self] in self?.startWatch() }
            case .success(let read):
                let start = read.revision + 1
                let watch = self.etcd.watch(
                    key: self.space.locksPrefix, rangeEnd: EtcdKey.prefixEnd(self.space.locksPrefix), startRevision: start, prevKV: false,
                    deletesOnly: true
                ) { [weak self] update in
                    self?.watched(update)
                }
                let effects = self.state.withLock { state -> [Effect] in
                    guard !state.isShuttingDown else { return [{ watch.cancel() }] }
                    state.watch = watch
                    state.watchFrom = start
                    let resources = Array(state.views.keys)
                    return resources.map { self.reload($0, &state) }
                }
                self.run(effects)
            }
        }
    }

    // MARK: Deletes that wait for etcd

    private func retryDeletes() {
        let (deletes, revokes) = state.withLock { state in
            defer {
                state.pendingDeletes = []
                state.pendingRevokes = []
            }
            return (state.pendingDeletes, state.pendingRevokes)
        }
        // One transaction per delete: etcd refuses one that touches a key twice.
        for delete in deletes {
            etcd.txn(delete).whenFailure { _ in
                self.state.withLock { $0.pendingDeletes.append(delete) }
            }
        }
        for lease in revokes {
            etcd.revokeLease(lease).whenFailure { error in
                // Refused means gone already, which is what was wanted.
                if case EtcdError.rejected = error { return }
                self.state.withLock { $0.pendingRevokes.append(lease) }
            }
        }
        guard !state.withLock({ $0.isShuttingDown }) else { return }
        _ = clock.wake(at: clock.now + Self.retryInterval) { [weak self] in self?.retryDeletes() }
    }

    // MARK: Holder leases

    /// The lease for a lock that ends at `microseconds` (wall clock): one per second, shared
    /// by the locks that end in it, never renewed, ending at or after them. If the daemon that
    /// granted a lock dies, etcd deletes it when that lease ends: at most 2 s after its
    /// lifetime (rounding up to the second, and etcd's minimum TTL of 2 s for short ones),
    /// plus etcd's 0.5 s between expiry checks.
    func holderLease(until microseconds: Int64) -> EventLoopFuture<Int64> {
        let wall = WallClock()
        let now = wall.microseconds(clock.now)
        let second = (microseconds + 999_999) / 1_000_000
        let (lease, asked) = state.withLock { state -> (EventLoopFuture<Int64>, EventLoopPromise<Int64>?) in
            if let lease = state.leases[second] { return (lease, nil) }
            // Forget the leases of seconds past.
            if state.leases.count > 64 {
                state.leases = state.leases.filter { $0.key * 1_000_000 > now }
            }
            let promise = etcd.eventLoop.makePromise(of: Int64.self)
            state.leases[second] = promise.futureResult
            return (promise.futureResult, promise)
        }
        // Asked outside the mutex: a future that failed at once would run its callback here.
        if let asked {
            let ttl = max(settings.minimumHolderLeaseTTL, (second * 1_000_000 - now + 999_999) / 1_000_000)
            etcd.grantLease(ttl: ttl).map(\.id).cascade(to: asked)
            lease.whenFailure { _ in
                self.state.withLock { state in
                    if state.leases[second] === lease { state.leases[second] = nil }
                }
            }
        }
        return lease
    }
}
