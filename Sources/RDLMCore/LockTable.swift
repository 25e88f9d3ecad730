/// The lock table: every resource with its holders and its FIFO queue of waiters, every
/// deadline, and the fencing counter. A value-level state machine with no I/O and no clock
/// of its own: each operation is told what time it is, so every rule is testable exactly.
///
/// Operations that affect other requests than their caller (a waiter granted, timed out or
/// deleted; a holder expired) record `LockEvent`s, which the owner takes with `takeEvents()`
/// and turns into answers.
public struct LockTable: Sendable {
    /// What an acquire decided.
    public enum AcquireResult: Sendable, Equatable {
        /// Granted at once: the lock as it now stands, with its fencing token.
        case granted(LockInfo)
        /// Queued: a later `.granted`, `.waitTimedOut` or `.waiterDeleted` event settles it.
        case queued
        case refused(Refusal)
    }

    /// Why an acquire was turned down without queuing.
    public enum Refusal: Sendable, Equatable {
        /// The resource is held and the request may not wait (`wait` is zero).
        case wouldWait
        /// The resource already has `maxWaitersPerResource` waiters.
        case tooManyWaiters
        /// The table already holds `maxLocks` locks.
        case tableFull
        /// The request's client already has `maxLocksPerClient` locks, held or waiting.
        case tooManyForClient
        /// The id is already in use (ids are random, so only a caller's mistake gets here).
        case duplicateID
    }

    /// What a refresh found.
    public enum RefreshResult: Sendable, Equatable {
        case refreshed(LockInfo)
        /// The lock is still waiting; only a holder's lease can be renewed.
        case notActive
        case notFound
    }

    struct Record: Sendable {
        var resource: String
        var request: LockRequest
        var state: LockState

        var isWaiting: Bool {
            if case .waiting = state { return true }
            return false
        }
    }

    public let limits: LockTableLimits
    private var records: [LockID: Record] = [:]
    private var resources: [String: Resource] = [:]
    /// Locks, held or waiting, by `LockRequest.client`; a client with none has no entry,
    /// so the keys never outnumber the live locks.
    private var locksByClient: [String: Int] = [:]
    private var deadlines = DeadlineHeap<LockID>()
    private var events: [LockEvent] = []
    private var changes: [DurableChange] = []
    private var activity: [LockActivity] = []
    /// Whether to record `DurableChange`s for a journal; off, recording costs nothing.
    public let recordsChanges: Bool
    /// Whether to record `LockActivity` for `takeActivity()`; off, recording costs nothing.
    public let recordsActivity: Bool
    /// The last fencing token granted; the next grant gets one more.
    public private(set) var lastFencingToken: FencingToken

    /// - Parameters:
    ///   - lastFencingToken: tokens granted by this table start after it, so a table seeded
    ///     above every token an earlier one granted never repeats one.
    ///   - recordsChanges: keep `DurableChange`s for `takeChanges()`.
    ///   - recordsActivity: keep every change as `LockActivity` for `takeActivity()`.
    ///   - holders: active locks to start with (restored from a journal), in grant order.
    ///     A holder that conflicts with an earlier one on its resource is left out.
    public init(
        limits: LockTableLimits = LockTableLimits(), lastFencingToken: FencingToken = 0,
        recordsChanges: Bool = false, recordsActivity: Bool = false, holders: [LockInfo] = []
    ) {
        self.limits = limits
        self.recordsChanges = recordsChanges
        self.recordsActivity = recordsActivity
        self.lastFencingToken = lastFencingToken
        for lock in holders {
            guard let token = lock.fencingToken, records[lock.id] == nil,
                  resources[lock.resource]?.admits(lock.request.mode) ?? true else { continue }
            hold(lock.id, Record(resource: lock.resource, request: lock.request, state: lock.state))
            self.lastFencingToken = max(self.lastFencingToken, token)
        }
    }

    /// Every active lock, for a snapshot.
    public var holders: [LockInfo] {
        records.compactMap { id, record in
            guard case .active = record.state else { return nil }
            return LockInfo(id: id, resource: record.resource, request: record.request, state: record.state)
        }
    }

    /// Hands over the changes to holders since the last call (when `recordsChanges`).
    public mutating func takeChanges() -> [DurableChange] {
        guard !changes.isEmpty else { return [] }
        defer { changes = [] }
        return changes
    }

    /// Hands over every change since the last call, in order (when `recordsActivity`).
    public mutating func takeActivity() -> [LockActivity] {
        guard !activity.isEmpty else { return [] }
        defer { activity = [] }
        return activity
    }

    /// Gives back the room that a crowd of locks, now gone, made the table's collections
    /// grow to (they keep their capacity otherwise). O(locks); meant for after a large drop.
    public mutating func compact() {
        records.shrinkIfSparse()
        resources.shrinkIfSparse()
        locksByClient.shrinkIfSparse()
        deadlines.compact()
    }

    // MARK: Reading

    /// Locks over all resources, holders and waiters.
    public var lockCount: Int { records.count }
    /// Active locks over all resources.
    public private(set) var holderCount = 0
    /// Queued requests over all resources.
    public var waiterCount: Int { records.count - holderCount }
    /// Resources that have at least one lock; an empty resource is forgotten.
    public var resourceCount: Int { resources.count }
    /// Locks, held or waiting, of one client.
    public func lockCount(forClient client: String) -> Int { locksByClient[client] ?? 0 }
    /// Clients that have at least one lock; a client with none is forgotten.
    public var clientCount: Int { locksByClient.count }
    /// Names of the resources that have locks.
    public var resourceNames: [String] { Array(resources.keys) }
    /// The earliest instant at which `advance(to:)` has work to do.
    public var nextDeadline: ContinuousClock.Instant? { deadlines.earliest?.deadline }

    /// One lock, if it exists on that resource. Call `advance(to:)` first for a current view.
    public func lock(_ id: LockID, on resource: String) -> LockInfo? {
        guard let record = records[id], record.resource == resource else { return nil }
        return LockInfo(id: id, resource: resource, request: record.request, state: record.state)
    }

    /// The locks of a resource: holders in grant order, then waiters in arrival order.
    public func locks(on resource: String) -> [LockInfo] {
        guard let entry = resources[resource] else { return [] }
        let ids = entry.holderIDs + entry.queue.filter { isWaiting($0) }
        return ids.compactMap { lock($0, on: resource) }
    }

    /// Hands over what happened to others since the last call.
    public mutating func takeEvents() -> [LockEvent] {
        guard !events.isEmpty else { return [] }
        defer { events = [] }
        return events
    }

    // MARK: Changing

    /// Asks for a lock: granted at once when the resource admits it and nobody is queued
    /// ahead (FIFO, so no mode starves), queued when it may wait, refused otherwise.
    public mutating func acquire(
        _ request: LockRequest, on resource: String, id: LockID, now: ContinuousClock.Instant
    ) -> AcquireResult {
        advance(to: now)
        guard records[id] == nil else { return .refused(.duplicateID) }
        if let client = request.client, lockCount(forClient: client) >= limits.maxLocksPerClient {
            return .refused(.tooManyForClient)
        }
        guard records.count < limits.maxLocks else { return .refused(.tableFull) }
        if resources[resource]?.grantsAtOnce(request.mode) ?? true {
            return .granted(grant(id, request: request, on: resource, at: now))
        }
        guard request.wait > .zero else { return .refused(.wouldWait) }
        guard (resources[resource]?.waiting ?? 0) < limits.maxWaitersPerResource else { return .refused(.tooManyWaiters) }
        store(id, Record(resource: resource, request: request, state: .waiting(since: now, expires: now + request.wait)))
        resources[resource, default: Resource()].enqueue(id)
        note(.waiting, id, at: now)
        return .queued
    }

    /// Deletes a lock by its URL: a holder is released (and the queue moves on), a waiter
    /// is removed and its parked request told so (`.waiterDeleted`).
    /// - Returns: whether the lock existed on that resource.
    public mutating func release(_ id: LockID, on resource: String, now: ContinuousClock.Instant) -> Bool {
        advance(to: now)
        guard let record = records[id], record.resource == resource else { return false }
        switch record.state {
        case .active:
            dropHolder(id, of: resource, at: now, as: .released)
        case .waiting:
            note(.withdrawn, id, at: now)
            dropWaiter(id, of: resource)
            events.append(.waiterDeleted(id, resource: resource))
        }
        promoteWaiters(of: resource, at: now)
        forgetIfEmpty(resource)
        return true
    }

    /// Removes a waiter whose client went away, without an event: there is nobody to answer.
    /// - Returns: whether it was still waiting.
    @discardableResult
    public mutating func abandon(_ id: LockID, now: ContinuousClock.Instant) -> Bool {
        advance(to: now)
        guard let record = records[id], case .waiting = record.state else { return false }
        note(.withdrawn, id, at: now)
        dropWaiter(id, of: record.resource)
        promoteWaiters(of: record.resource, at: now)
        forgetIfEmpty(record.resource)
        return true
    }

    /// Renews a holder's lease: it now expires `lifetime` (or its own lifetime) from `now`.
    public mutating func refresh(
        _ id: LockID, on resource: String, lifetime: Duration?, now: ContinuousClock.Instant
    ) -> RefreshResult {
        advance(to: now)
        guard var record = records[id], record.resource == resource else { return .notFound }
        guard case .active(let since, _, let token) = record.state else { return .notActive }
        if let lifetime { record.request.lifetime = lifetime }
        let expires = now + record.request.lifetime
        record.state = .active(since: since, expires: expires, token: token)
        store(id, record)
        let refreshed = LockInfo(id: id, resource: resource, request: record.request, state: record.state)
        if recordsChanges { changes.append(.refreshed(refreshed)) }
        note(.refreshed, id, at: now)
        // A lease renewed for no time at all ends now, not at the next operation.
        advance(to: now)
        return .refreshed(refreshed)
    }

    /// Drops every lock of a resource (admin): holders go, waiters are told (`.waiterDeleted`).
    /// - Returns: whether the resource had any lock.
    @discardableResult
    public mutating func deleteResource(_ resource: String, now: ContinuousClock.Instant) -> Bool {
        advance(to: now)
        guard let entry = resources.removeValue(forKey: resource) else { return false }
        for id in entry.holderIDs {
            if recordsChanges { changes.append(.released(id)) }
            note(.deleted, id, at: now)
            forget(id)
            events.append(.holderDeleted(id, resource: resource))
        }
        for id in entry.queue where isWaiting(id) {
            note(.deleted, id, at: now)
            forget(id)
            events.append(.waiterDeleted(id, resource: resource))
        }
        return true
    }

    /// Drops every lock of every resource (admin).
    public mutating func deleteAll(now: ContinuousClock.Instant) {
        advance(to: now)
        for resource in Array(resources.keys) {
            deleteResource(resource, now: now)
        }
    }

    /// Applies every deadline due at `now`, in deadline order, each at its own instant:
    /// a holder that expired at t hands over at t, to waiters still waiting at t.
    public mutating func advance(to now: ContinuousClock.Instant) {
        while let (deadline, id) = deadlines.popDue(at: now) {
            guard let record = records[id] else { continue }
            switch record.state {
            case .waiting:
                note(.withdrawn, id, at: deadline)
                dropWaiter(id, of: record.resource)
                events.append(.waitTimedOut(id, resource: record.resource))
            case .active:
                dropHolder(id, of: record.resource, at: deadline, as: .expired)
                events.append(.expired(id, resource: record.resource))
            }
            // A leaving head may have been all that kept compatible waiters behind it out.
            promoteWaiters(of: record.resource, at: deadline)
            forgetIfEmpty(record.resource)
        }
    }

    // MARK: Internals

    /// At one instant, holders expire before waiters give up: a waiter whose `wait` ends
    /// exactly when the lock frees is granted, as "waits at most `wait`" promises.
    private static let expiryRank: UInt8 = 0
    private static let waitRank: UInt8 = 1

    private func isWaiting(_ id: LockID) -> Bool {
        records[id]?.isWaiting == true
    }

    /// Every lock enters the table, and changes state, through here: its record, its
    /// deadline and its client's count stay in step.
    private mutating func store(_ id: LockID, _ record: Record) {
        let previous = records.updateValue(record, forKey: id)
        if previous == nil, let client = record.request.client {
            locksByClient[client, default: 0] += 1
        }
        if !record.isWaiting, previous?.isWaiting ?? true { holderCount += 1 }
        switch record.state {
        case .waiting(_, let expires): deadlines.set(id, to: expires, rank: Self.waitRank)
        case .active(_, let expires, _): deadlines.set(id, to: expires, rank: Self.expiryRank)
        }
    }

    /// Every lock leaves the table through here.
    private mutating func forget(_ id: LockID) {
        guard let record = records.removeValue(forKey: id) else { return }
        deadlines.remove(id)
        if !record.isWaiting { holderCount -= 1 }
        if let client = record.request.client {
            let remaining = (locksByClient[client] ?? 0) - 1
            locksByClient[client] = remaining > 0 ? remaining : nil
        }
    }

    /// Makes `record`, an active one, a holder of its resource: for a grant and for a
    /// holder restored from a journal alike.
    private mutating func hold(_ id: LockID, _ record: Record) {
        store(id, record)
        resources[record.resource, default: Resource()].addHolder(id, mode: record.request.mode)
    }

    private mutating func grant(
        _ id: LockID, request: LockRequest, on resource: String, at now: ContinuousClock.Instant
    ) -> LockInfo {
        lastFencingToken += 1
        let state = LockState.active(since: now, expires: now + request.lifetime, token: lastFencingToken)
        hold(id, Record(resource: resource, request: request, state: state))
        let lock = LockInfo(id: id, resource: resource, request: request, state: state)
        if recordsChanges { changes.append(.granted(lock)) }
        if recordsActivity { activity.append(LockActivity(.granted, lock, at: now)) }
        return lock
    }

    private mutating func dropHolder(_ id: LockID, of resource: String, at now: ContinuousClock.Instant, as kind: LockActivity.Kind) {
        if recordsChanges { changes.append(.released(id)) }
        note(kind, id, at: now)
        forget(id)
        resources[resource]?.removeHolder(id)
    }

    /// Records a change to a lock still in the table, as it stands.
    private mutating func note(_ kind: LockActivity.Kind, _ id: LockID, at now: ContinuousClock.Instant) {
        guard recordsActivity, let record = records[id] else { return }
        activity.append(LockActivity(kind, LockInfo(id: id, resource: record.resource, request: record.request, state: record.state), at: now))
    }

    private mutating func dropWaiter(_ id: LockID, of resource: String) {
        forget(id)
        resources[resource]?.dropWaiter(records: records)
    }

    /// Grants queued requests from the front for as long as the resource admits them.
    private mutating func promoteWaiters(of resource: String, at now: ContinuousClock.Instant) {
        while let head = resources[resource]?.takeAdmittedWaiter(records: records), let record = records[head] {
            events.append(.granted(grant(head, request: record.request, on: resource, at: now)))
        }
    }

    private mutating func forgetIfEmpty(_ resource: String) {
        if let entry = resources[resource], entry.isEmpty {
            resources[resource] = nil
        }
    }
}
