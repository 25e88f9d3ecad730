import Testing
@testable import RDLMCore

/// Long queues with waiters leaving from the middle: the table deletes them lazily and
/// compacts the queue now and then, and none of that may change who is served next.
@Suite("Long queues keep FIFO order")
struct QueueOrderTests {
    /// Queues `count` exclusive waiters (ids 1...count) behind holder 0 on "r".
    private func queueBehindHolder(_ count: Int, at t0: ContinuousClock.Instant) -> LockTable {
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(0), now: t0)
        for n in 1...count {
            _ = table.acquire(exclusive(wait: .seconds(3_600)), on: "r", id: lid(UInt64(n)), now: t0)
        }
        return table
    }

    /// Releases the holder again and again and returns who was granted, in order.
    private func drain(_ table: inout LockTable, from holder: LockID, at now: ContinuousClock.Instant) -> [LockID] {
        var granted: [LockID] = []
        var current = holder
        while table.release(current, on: "r", now: now) {
            let events = table.takeEvents()
            guard events.count == 1, let next = events.first?.grantedID else {
                #expect(events.isEmpty, "a release hands over to exactly one exclusive waiter")
                break
            }
            granted.append(next)
            current = next
        }
        return granted
    }

    @Test("1,000 waiters with every third abandoned are granted in exact FIFO order")
    func everyThirdAbandoned() {
        let t0 = ContinuousClock.now
        var table = queueBehindHolder(1_000, at: t0)
        for n in stride(from: 3, through: 1_000, by: 3) {
            #expect(table.abandon(lid(UInt64(n)), now: t0 + .seconds(1)) == true)
        }
        #expect(table.lockCount == 1 + 1_000 - 333)
        let expected = (1...1_000).filter { !$0.isMultiple(of: 3) }.map { lid(UInt64($0)) }
        #expect(table.waiterIDs(on: "r") == expected)
        #expect(drain(&table, from: lid(0), at: t0 + .seconds(2)) == expected)
        #expect(table.resourceCount == 0)
        #expect(table.lockCount == 0)
    }

    @Test("1,000 waiters with nine in ten abandoned (queue compaction) are granted in exact FIFO order")
    func mostAbandoned() {
        let t0 = ContinuousClock.now
        var table = queueBehindHolder(1_000, at: t0)
        for n in 1...1_000 where !n.isMultiple(of: 10) {
            table.abandon(lid(UInt64(n)), now: t0 + .seconds(1))
        }
        let expected = stride(from: 10, through: 1_000, by: 10).map { lid(UInt64($0)) }
        #expect(table.waiterIDs(on: "r") == expected)
        #expect(drain(&table, from: lid(0), at: t0 + .seconds(2)) == expected)
        #expect(table.lockCount == 0)
    }

    @Test("waiters leaving by abandon, release and timeout while the queue drains and grows keep FIFO order")
    func churn() {
        let t0 = ContinuousClock.now
        var generator = SeededGenerator(seed: 7)
        var table = LockTable()
        var reference: [LockID] = []  // live waiters, in arrival order
        var holder = lid(0)
        _ = table.acquire(exclusive(lifetime: .seconds(100_000)), on: "r", id: holder, now: t0)
        var nextID: UInt64 = 1
        var now = t0
        for step in 0..<3_000 {
            now = now + .milliseconds(1)
            // Apply this instant's timeouts first, so every operation below meets a settled queue.
            table.advance(to: now)
            _ = table.takeEvents()
            reference.removeAll { table.lock($0, on: "r") == nil }
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5:
                // Some waiters give up soon, so timeouts also leave holes in the queue.
                let wait: Duration = Bool.random(using: &generator) ? .seconds(100_000) : .milliseconds(50)
                let id = lid(nextID)
                nextID += 1
                let request = exclusive(lifetime: .seconds(100_000), wait: wait)
                #expect(table.acquire(request, on: "r", id: id, now: now) == .queued)
                reference.append(id)
            case 5..<8 where !reference.isEmpty:
                let victim = reference.remove(at: Int.random(in: 0..<reference.count, using: &generator))
                if Bool.random(using: &generator) {
                    #expect(table.abandon(victim, now: now) == true)
                    #expect(table.takeEvents().isEmpty)
                } else {
                    #expect(table.release(victim, on: "r", now: now) == true)
                    #expect(table.takeOutlines() == [.waiterDeleted(victim, resource: "r")])
                }
            case 8 where step.isMultiple(of: 2) && !reference.isEmpty:
                #expect(table.release(holder, on: "r", now: now) == true)
                let granted = table.takeEvents().compactMap(\.grantedID)
                #expect(granted == [reference[0]])
                holder = reference.removeFirst()
            default:
                break
            }
            #expect(table.waiterIDs(on: "r") == reference)
            #expect(table.holderIDs(on: "r") == [holder])
        }
        #expect(table.lockCount == 1 + reference.count)
    }

    @Test("1,000 shared waiters behind an exclusive holder, every third abandoned, are granted together in order")
    func sharedWaitersTogether() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(0), now: t0)
        for n in 1...1_000 {
            _ = table.acquire(shared(wait: .seconds(3_600)), on: "r", id: lid(UInt64(n)), now: t0)
        }
        _ = table.acquire(exclusive(wait: .seconds(3_600)), on: "r", id: lid(5_000), now: t0)
        for n in stride(from: 3, through: 1_000, by: 3) {
            table.abandon(lid(UInt64(n)), now: t0)
        }
        _ = table.release(lid(0), on: "r", now: t0 + .seconds(1))
        let expected = (1...1_000).filter { !$0.isMultiple(of: 3) }.map { lid(UInt64($0)) }
        #expect(table.takeEvents().compactMap(\.grantedID) == expected)
        #expect(table.holderIDs(on: "r") == expected)
        #expect(table.waiterIDs(on: "r") == [lid(5_000)])
    }

    @Test("waiters timing out in the middle of a long queue leave the rest in FIFO order")
    func timeoutsInTheMiddle() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(0), now: t0)
        for n in 1...600 {
            let wait: Duration = n.isMultiple(of: 4) ? .seconds(10) : .seconds(3_600)
            _ = table.acquire(exclusive(wait: wait), on: "r", id: lid(UInt64(n)), now: t0)
        }
        table.advance(to: t0 + .seconds(10))
        #expect(table.takeEvents().count == 150)
        let expected = (1...600).filter { !$0.isMultiple(of: 4) }.map { lid(UInt64($0)) }
        #expect(drain(&table, from: lid(0), at: t0 + .seconds(11)) == expected)
    }
}
