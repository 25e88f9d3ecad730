import Logging
import NIOCore
import RDLMCore
import RDLMEtcd
import Synchronization

/// The whole lock space as etcd has it, kept by a watch of its own (puts and deletes, with
/// the previous version), for `GET /events` on the etcd backend: every daemon's stream shows
/// the changes made through every daemon, in etcd's order.
///
/// It is apart from the deletes-only watch that lock handling uses (puts there would double
/// what etcd sends every daemon for nothing the grants need); it exists only when the daemon
/// serves events. Read once with one range at revision R, then kept from R + 1. When its
/// watch ends (compaction, every member lost for the client's reconnect window) the streams
/// are closed with a final `reset`, so their clients come back for a fresh snapshot; until
/// the mirror is read again, new streams are answered 503.
///
/// Lock order: this mirror's, then the hub's (publish and subscribe happen under this one, so
/// a stream's snapshot and the changes after it agree).
final class EtcdEventMirror: Sendable {
    struct Entry: Sendable {
        var record: EtcdLockRecord
        /// The fencing token, and the queue order.
        var createRevision: Int64
    }

    private struct State {
        var locks: [String: Entry] = [:]
        var loaded = false
        var watch: EtcdWatch?
        var stopped = false
    }

    /// A delete of a holder this long before its expiry (or later) is taken for its expiry:
    /// the timers of the daemon that granted it run a little early or late.
    static let expirySlackMicroseconds: Int64 = 1_000_000

    private let etcd: EtcdClient
    private let space: EtcdLockSpace
    let hub: LockEventHub
    private let clock: any LockClock
    private let logger: Logger
    private let state = Mutex(State())

    init(etcd: EtcdClient, space: EtcdLockSpace, hub: LockEventHub, clock: any LockClock, logger: Logger) {
        self.etcd = etcd
        self.space = space
        self.hub = hub
        self.clock = clock
        self.logger = logger
    }

    /// Reads the lock space and watches it from there; again after the watch ended.
    func start() {
        guard !state.withLock({ $0.stopped }) else { return }
        let all = space.locksPrefix
        etcd.range(all, rangeEnd: EtcdKey.prefixEnd(all)).whenComplete { result in
            switch result {
            case .failure(let error):
                self.logger.debug("etcd event mirror not loaded yet", metadata: ["reason": "\(error)"])
                _ = self.clock.wake(at: self.clock.now + EtcdLockService.retryInterval) { [weak self] in self?.start() }
            case .success(let read):
                var locks: [String: Entry] = [:]
                for kv in read.result.kvs {
                    guard self.space.parse(kv.key) != nil, let record = EtcdLockRecord(bytes: kv.value) else { continue }
                    locks[kv.key] = Entry(record: record, createRevision: kv.createRevision)
                }
                // Nothing is delivered before the state below is in place: the handler runs
                // on the client's loop, and takes this mirror's lock first.
                let watch = self.etcd.watch(
                    key: all, rangeEnd: EtcdKey.prefixEnd(all), startRevision: read.revision + 1, prevKV: true
                ) { [weak self] update in
                    self?.watched(update)
                }
                let stopped = self.state.withLock { state -> Bool in
                    guard !state.stopped else { return true }
                    state.locks = locks
                    state.loaded = true
                    state.watch = watch
                    return false
                }
                if stopped { watch.cancel() }
            }
        }
    }

    func stop() {
        let watch = state.withLock { state in
            defer {
                state.stopped = true
                state.watch = nil
                state.loaded = false
            }
            return state.watch
        }
        watch?.cancel()
    }

    private func watched(_ update: EtcdWatchUpdate) {
        switch update {
        case .events(_, let events):
            state.withLock { state in
                guard state.loaded else { return }
                hub.publish(events.compactMap { apply($0, &state) })
            }
        case .progress:
            break
        case .ended(let error):
            logger.warning("etcd event watch ended; closing the event streams with a reset and reading the lock space again", metadata: ["reason": "\(error.reason)"])
            state.withLock { state in
                state.loaded = false
                state.watch = nil
                state.locks = [:]
                hub.resetAll("the etcd watch behind this stream was interrupted (\(error.reason)); reconnect for a fresh snapshot")
            }
            start()
        }
    }

    /// One watch event applied to the mirror, and the change it is for the streams (nil for
    /// a put that changes nothing they show, or a key that is not a lock). Under the lock.
    private func apply(_ event: EtcdEvent, _ state: inout State) -> LockActivity? {
        let key = event.kv.key
        guard let parsed = space.parse(key) else { return nil }
        let wall = WallClock()
        let now = clock.now
        func info(_ entry: Entry) -> LockInfo {
            entry.record.lockInfo(id: parsed.id, resource: parsed.resource, mode: parsed.mode, token: entry.createRevision, wall: wall)
        }
        switch event.kind {
        case .put:
            guard let record = EtcdLockRecord(bytes: event.kv.value) else { return nil }
            let entry = Entry(record: record, createRevision: event.kv.createRevision)
            let previous = state.locks.updateValue(entry, forKey: key)
            let granted = record.grantedMicroseconds.map { wall.instant($0 * 1_000) } ?? now
            switch (previous?.record.isGranted, record.isGranted) {
            case (nil, false): return LockActivity(.waiting, info(entry), at: now)
            case (nil, true), (false?, true): return LockActivity(.granted, info(entry), at: granted)
            case (true?, true) where previous?.record.expiresMicroseconds != record.expiresMicroseconds:
                return LockActivity(.refreshed, info(entry), at: now)
            default: return nil
            }
        case .delete:
            let removed = state.locks.removeValue(forKey: key)
            let previous = removed ?? event.prevKV.flatMap { kv in
                EtcdLockRecord(bytes: kv.value).map { Entry(record: $0, createRevision: kv.createRevision) }
            }
            guard let previous else { return nil }
            guard let expires = previous.record.expiresMicroseconds else { return LockActivity(.withdrawn, info(previous), at: now) }
            let ended = wall.microseconds(now) >= expires - Self.expirySlackMicroseconds
            return LockActivity(ended ? .expired : .released, info(previous), at: now)
        }
    }

    /// Registers `subscription` with the hub and returns what it starts with, atomically
    /// with the changes it will be sent.
    /// - Throws: while the lock space is not read (etcd unreachable, or a watch restarting).
    func subscribe(_ subscription: EventSubscription, lastEventID: String?) throws(LockServiceUnavailable) -> LockEventHub.Opening {
        let opening = state.withLock { state -> LockEventHub.Opening? in
            guard state.loaded else { return nil }
            switch hub.subscribe(subscription, lastEventID: lastEventID) {
            case .replay(let records):
                return .replay(records)
            case .snapshot(let id, let reset):
                return .snapshot(id: id, reset: reset, resources: snapshot(state, resource: subscription.resource), time: clock.now)
            }
        }
        guard let opening else {
            throw LockServiceUnavailable("no event stream on the etcd backend until this daemon has read the lock space from etcd (unreachable, or its watch restarting)")
        }
        return opening
    }

    /// Resources by name, each with its holders first, then its waiters in queue order
    /// (create revision), as `GET /resources/{name}` lists them.
    private func snapshot(_ state: State, resource: String?) -> [(name: String, locks: [LockInfo])] {
        let wall = WallClock()
        let now = wall.microseconds(clock.now)
        var byResource: [String: [(revision: Int64, lock: LockInfo)]] = [:]
        for (key, entry) in state.locks where !entry.record.hasEnded(at: now) {
            guard let parsed = space.parse(key), resource == nil || parsed.resource == resource else { continue }
            let lock = entry.record.lockInfo(id: parsed.id, resource: parsed.resource, mode: parsed.mode, token: entry.createRevision, wall: wall)
            byResource[parsed.resource, default: []].append((entry.createRevision, lock))
        }
        return byResource.keys.sorted().map { name in
            let locks = byResource[name, default: []].sorted { $0.revision < $1.revision }.map(\.lock)
            return (name: name, locks: locks.filter(\.isActive) + locks.filter { !$0.isActive })
        }
    }
}
