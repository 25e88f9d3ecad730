import Testing
@testable import RDLMCore

/// A deliberately naive lock table: plain arrays, linear scans, no heap, no lazy deletion.
/// It states the rules of the contract as directly as possible; the real table must agree
/// with it on every answer, every event and every observable count.
private struct ReferenceTable {
    typealias Instant = ContinuousClock.Instant

    struct Lock {
        var resource: String
        var request: LockRequest
        var state: LockState
    }

    let limits: LockTableLimits
    var locks: [LockID: Lock] = [:]
    var holders: [String: [LockID]] = [:]
    var waiters: [String: [LockID]] = [:]
    var lastToken: FencingToken = 0
    var events: [LockEvent] = []

    var resourceCount: Int { Set(holders.keys).union(waiters.keys).count }
    var clients: Set<String> { Set(locks.values.compactMap(\.request.client)) }

    func lockCount(forClient client: String) -> Int {
        locks.values.filter { $0.request.client == client }.count
    }
    var nextDeadline: Instant? { locks.values.map(deadline).min() }

    func deadline(_ lock: Lock) -> Instant {
        switch lock.state {
        case .waiting(_, let expires), .active(_, let expires, _): expires
        }
    }

    func info(_ id: LockID) -> LockInfo? {
        locks[id].map { LockInfo(id: id, resource: $0.resource, request: $0.request, state: $0.state) }
    }

    func locks(on resource: String) -> [LockInfo] {
        ((holders[resource] ?? []) + (waiters[resource] ?? [])).compactMap(info)
    }

    func admits(_ resource: String, _ mode: LockMode) -> Bool {
        let current = holders[resource] ?? []
        return current.isEmpty || (mode == .shared && current.allSatisfy { locks[$0]!.request.mode == .shared })
    }

    mutating func advance(to now: Instant) {
        while let (id, lock) = locks.min(by: { deadline($0.value) < deadline($1.value) }), deadline(lock) <= now {
            let at = deadline(lock)
            remove(id)
            if case .waiting = lock.state {
                events.append(.waitTimedOut(id, resource: lock.resource))
            } else {
                events.append(.expired(id, resource: lock.resource))
            }
            promote(lock.resource, at: at)
        }
    }

    mutating func remove(_ id: LockID) {
        guard let lock = locks.removeValue(forKey: id) else { return }
        holders[lock.resource]?.removeAll { $0 == id }
        waiters[lock.resource]?.removeAll { $0 == id }
        if holders[lock.resource]?.isEmpty == true { holders[lock.resource] = nil }
        if waiters[lock.resource]?.isEmpty == true { waiters[lock.resource] = nil }
    }

    mutating func grant(_ id: LockID, _ request: LockRequest, on resource: String, at now: Instant) -> LockInfo {
        lastToken += 1
        locks[id] = Lock(resource: resource, request: request,
                         state: .active(since: now, expires: now + request.lifetime, token: lastToken))
        holders[resource, default: []].append(id)
        return info(id)!
    }

    mutating func promote(_ resource: String, at now: Instant) {
        while let head = waiters[resource]?.first, admits(resource, locks[head]!.request.mode) {
            let request = locks[head]!.request
            waiters[resource]!.removeFirst()
            if waiters[resource]!.isEmpty { waiters[resource] = nil }
            events.append(.granted(grant(head, request, on: resource, at: now)))
        }
    }

    mutating func acquire(_ request: LockRequest, on resource: String, id: LockID, now: Instant) -> LockTable.AcquireResult {
        advance(to: now)
        if let client = request.client, lockCount(forClient: client) >= limits.maxLocksPerClient {
            return .refused(.tooManyForClient)
        }
        if locks.count >= limits.maxLocks { return .refused(.tableFull) }
        let queue = waiters[resource] ?? []
        if queue.isEmpty && admits(resource, request.mode) {
            return .granted(grant(id, request, on: resource, at: now))
        }
        if request.wait <= .zero { return .refused(.wouldWait) }
        if queue.count >= limits.maxWaitersPerResource { return .refused(.tooManyWaiters) }
        locks[id] = Lock(resource: resource, request: request, state: .waiting(since: now, expires: now + request.wait))
        waiters[resource, default: []].append(id)
        return .queued
    }

    mutating func release(_ id: LockID, on resource: String, now: Instant) -> Bool {
        advance(to: now)
        guard let lock = locks[id], lock.resource == resource else { return false }
        remove(id)
        if case .waiting = lock.state { events.append(.waiterDeleted(id, resource: resource)) }
        promote(resource, at: now)
        return true
    }

    mutating func abandon(_ id: LockID, now: Instant) -> Bool {
        advance(to: now)
        guard let lock = locks[id], case .waiting = lock.state else { return false }
        remove(id)
        promote(lock.resource, at: now)
        return true
    }

    mutating func refresh(_ id: LockID, on resource: String, lifetime: Duration?, now: Instant) -> LockTable.RefreshResult {
        advance(to: now)
        guard var lock = locks[id], lock.resource == resource else { return .notFound }
        guard case .active(let since, _, let token) = lock.state else { return .notActive }
        if let lifetime { lock.request.lifetime = lifetime }
        lock.state = .active(since: since, expires: now + lock.request.lifetime, token: token)
        locks[id] = lock
        return .refreshed(info(id)!)
    }

    mutating func deleteResource(_ resource: String, now: Instant) -> Bool {
        advance(to: now)
        let held = holders[resource] ?? [], queued = waiters[resource] ?? []
        guard !held.isEmpty || !queued.isEmpty else { return false }
        for id in held { remove(id); events.append(.holderDeleted(id, resource: resource)) }
        for id in queued { remove(id); events.append(.waiterDeleted(id, resource: resource)) }
        return true
    }

    mutating func takeEvents() -> [LockEvent] {
        defer { events = [] }
        return events
    }
}

/// One randomized scenario shape.
struct ModelScenario: Sendable, CustomTestStringConvertible {
    var name: String
    var seed: UInt64
    var resources: [String]
    /// Client keys requests come from; nil is counted against nobody.
    var clients: [String?]
    var limits: LockTableLimits
    var steps: Int
    /// The longest pause between two operations, in milliseconds.
    var maxPauseMs: Int
    /// The longest wait and the longest lifetime of a request, in milliseconds.
    var maxWaitMs: Int
    var maxLifetimeMs: Int
    /// Relative weights of acquire, abandon, release, refresh, advance, delete resource, delete all.
    var weights: [Int]

    var testDescription: String { name }
}

@Suite("The table agrees with a naive reference model")
struct ModelTests {
    static let scenarios: [ModelScenario] = [
        ModelScenario(name: "few resources, tight limits", seed: 11, resources: ["a", "b", "c"],
                      clients: ["10.0.0.1", "10.0.0.2", nil],
                      limits: LockTableLimits(maxWaitersPerResource: 5, maxLocks: 12, maxLocksPerClient: 4), steps: 4_000,
                      maxPauseMs: 800, maxWaitMs: 4_000, maxLifetimeMs: 5_000,
                      weights: [45, 10, 30, 6, 5, 3, 1]),
        // Long lifetimes and many abandons: stale ids pile up and the queue gets compacted.
        ModelScenario(name: "one resource, long queue with many abandons", seed: 12, resources: ["q"],
                      clients: ["10.0.0.1", nil],
                      limits: LockTableLimits(maxLocksPerClient: 120), steps: 4_000,
                      maxPauseMs: 20, maxWaitMs: 200_000, maxLifetimeMs: 30_000,
                      weights: [50, 40, 8, 1, 1, 0, 0]),
        ModelScenario(name: "two resources, mixed churn", seed: 13, resources: ["x", "y"],
                      clients: ["10.0.0.1", "10.0.0.2", "10.0.0.3", nil],
                      limits: LockTableLimits(maxWaitersPerResource: 40, maxLocks: 60, maxLocksPerClient: 6), steps: 4_000,
                      maxPauseMs: 300, maxWaitMs: 10_000, maxLifetimeMs: 5_000,
                      weights: [50, 20, 20, 4, 4, 1, 1]),
    ]

    @Test("random operations give the same answers, events and state as the reference", arguments: scenarios)
    func agreesWithReference(_ scenario: ModelScenario) {
        var generator = SeededGenerator(seed: scenario.seed)
        func random(_ range: Range<Int>) -> Int { Int.random(in: range, using: &generator) }
        // Nanosecond-grained random durations keep deadlines distinct, so the order of
        // two deadlines at the very same instant never comes into play.
        func randomDuration(upToMs ms: Int) -> Duration { .nanoseconds(Int64(random(1..<(ms * 1_000_000)))) }

        var table = LockTable(limits: scenario.limits)
        var reference = ReferenceTable(limits: scenario.limits)
        var now = ContinuousClock.now
        var issued: [(id: LockID, resource: String)] = []
        var seen: Set<String> = []  // kinds of events met, to show the scenario did exercise them

        for step in 0..<scenario.steps {
            now = now + randomDuration(upToMs: scenario.maxPauseMs)
            let resource = scenario.resources[random(0..<scenario.resources.count)]
            // Mostly a live lock (now and then named with the wrong resource), else any id
            // the test ever used, else a new one.
            var target = (id: lid(UInt64(1_000_000 + step)), resource: resource)
            let live = reference.locks.keys.sorted { $0.low < $1.low }
            if !live.isEmpty && random(0..<10) < 7 {
                let id = live[random(0..<live.count)]
                target = (id, reference.locks[id]!.resource)
            } else if !issued.isEmpty && random(0..<10) > 0 {
                target = issued[random(0..<issued.count)]
            }
            if random(0..<12) == 0 { target.resource = resource }

            var roll = random(0..<scenario.weights.reduce(0, +))
            var operation = 0
            while roll >= scenario.weights[operation] {
                roll -= scenario.weights[operation]
                operation += 1
            }
            let description: String
            switch operation {
            case 0:
                let id = lid(UInt64(step))
                let wait: Duration = random(0..<8) == 0 ? .zero : randomDuration(upToMs: scenario.maxWaitMs)
                let lifetime = randomDuration(upToMs: scenario.maxLifetimeMs)
                let mode: LockMode = random(0..<2) == 0 ? .shared : .exclusive
                let client = scenario.clients[random(0..<scenario.clients.count)]
                let request = LockRequest(title: "step \(step)", lifetime: lifetime, wait: wait, mode: mode, client: client)
                issued.append((id, resource))
                description = "acquire \(id) on \(resource)"
                let result = table.acquire(request, on: resource, id: id, now: now)
                #expect(result == reference.acquire(request, on: resource, id: id, now: now), "\(description)")
                if result == .refused(.tooManyForClient) { seen.insert("tooManyForClient") }
            case 1:
                description = "abandon \(target.id)"
                #expect(table.abandon(target.id, now: now) == reference.abandon(target.id, now: now), "\(description)")
            case 2:
                description = "release \(target.id) on \(target.resource)"
                #expect(table.release(target.id, on: target.resource, now: now)
                    == reference.release(target.id, on: target.resource, now: now), "\(description)")
            case 3:
                let lifetime: Duration? = random(0..<2) == 0 ? nil : randomDuration(upToMs: scenario.maxLifetimeMs)
                description = "refresh \(target.id) on \(target.resource)"
                #expect(table.refresh(target.id, on: target.resource, lifetime: lifetime, now: now)
                    == reference.refresh(target.id, on: target.resource, lifetime: lifetime, now: now), "\(description)")
            case 4:
                description = "advance"
                table.advance(to: now)
                reference.advance(to: now)
            case 5:
                description = "delete resource \(resource)"
                #expect(table.deleteResource(resource, now: now) == reference.deleteResource(resource, now: now))
            default:
                description = "delete all"
                table.deleteAll(now: now)
                for name in scenario.resources { _ = reference.deleteResource(name, now: now) }
            }

            let actualEvents = table.takeEvents(), expectedEvents = reference.takeEvents()
            for event in actualEvents { seen.insert(String(describing: event).prefix { $0 != "(" }.description) }
            let eventsAgree: Bool
            if description == "delete all" {
                // Resources are visited in no particular order.
                eventsAgree = actualEvents.count == expectedEvents.count
                    && expectedEvents.allSatisfy(actualEvents.contains)
            } else {
                eventsAgree = actualEvents == expectedEvents
            }
            #expect(eventsAgree, "events after step \(step) (\(description)): \(actualEvents), expected \(expectedEvents)")
            #expect(table.lockCount == reference.locks.count)
            #expect(table.resourceCount == reference.resourceCount)
            #expect(Set(table.resourceNames) == Set(reference.holders.keys).union(reference.waiters.keys))
            #expect(table.nextDeadline == reference.nextDeadline)
            #expect(table.lastFencingToken == reference.lastToken)
            let clientsAgree = table.clientCount == reference.clients.count && scenario.clients.allSatisfy { client in
                client.map { table.lockCount(forClient: $0) == reference.lockCount(forClient: $0) } ?? true
            }
            #expect(clientsAgree, "locks per client after step \(step) (\(description))")
            for name in scenario.resources {
                #expect(table.locks(on: name) == reference.locks(on: name), "locks on \(name) after step \(step)")
            }
            // Once they disagree, every later step would only repeat the first difference.
            if !eventsAgree || !clientsAgree || table.lockCount != reference.locks.count { return }
        }
        #expect(seen.isSuperset(of: ["granted", "waitTimedOut", "waiterDeleted", "expired"]), "\(seen)")
        #expect(seen.contains("tooManyForClient"), "the clients never met their quota")
    }
}
