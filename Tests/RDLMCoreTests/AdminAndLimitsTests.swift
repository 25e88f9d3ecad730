import Testing
@testable import RDLMCore

@Suite("Administrative deletion")
struct AdminDeletionTests {
    @Test("deleteResource drops holders with .holderDeleted and tells waiters with .waiterDeleted")
    func deleteResourceEvents() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(3), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(4), now: t0)
        #expect(table.deleteResource("r", now: t0 + .seconds(1)) == true)
        #expect(table.takeOutlines() == [
            .holderDeleted(lid(1), resource: "r"),
            .holderDeleted(lid(2), resource: "r"),
            .waiterDeleted(lid(3), resource: "r"),
            .waiterDeleted(lid(4), resource: "r"),
        ])
        #expect(table.lockCount == 0)
        #expect(table.resourceCount == 0)
        #expect(table.locks(on: "r").isEmpty)
        #expect(table.nextDeadline == nil)
    }

    @Test("deleteResource of an unknown resource returns false")
    func deleteUnknownResource() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        #expect(table.deleteResource("r", now: t0) == false)
        _ = table.acquire(exclusive(), on: "s", id: lid(1), now: t0)
        #expect(table.deleteResource("r", now: t0) == false)
        #expect(table.takeEvents().isEmpty)
    }

    @Test("deleteResource leaves other resources alone")
    func deleteResourceIsolated() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(9)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5)), on: "s", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "s", id: lid(3), now: t0)
        table.deleteResource("s", now: t0)
        #expect(table.ids(on: "r") == [lid(1)])
        #expect(table.resourceNames == ["r"])
        #expect(table.nextDeadline == t0 + .seconds(9))
    }

    @Test("deleteResource tells nothing to abandoned waiters")
    func deleteResourceSkipsAbandoned() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(3), now: t0)
        table.abandon(lid(2), now: t0)
        table.deleteResource("r", now: t0)
        #expect(table.takeOutlines() == [
            .holderDeleted(lid(1), resource: "r"),
            .waiterDeleted(lid(3), resource: "r"),
        ])
    }

    @Test("deleteResource first applies due deadlines: an expired holder is .expired, not deleted")
    func deleteResourceAfterExpiry() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(1)), on: "r", id: lid(1), now: t0)
        #expect(table.deleteResource("r", now: t0 + .seconds(2)) == false)
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
    }

    @Test("a deleted resource can be locked again, with a fresh, larger token")
    func relockAfterDelete() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        table.deleteResource("r", now: t0)
        #expect(table.acquire(exclusive(), on: "r", id: lid(2), now: t0).token == 2)
    }

    @Test("deleteAll drops every lock of every resource")
    func deleteAll() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "a", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "a", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "b", id: lid(3), now: t0)
        _ = table.acquire(exclusive(), on: "c", id: lid(4), now: t0)
        table.deleteAll(now: t0 + .seconds(1))
        let events = table.takeEvents()
        #expect(events.count == 4)
        #expect(Set(events.filter { if case .holderDeleted = $0 { true } else { false } }.map(\.lockID))
            == [lid(1), lid(3), lid(4)])
        #expect(events.contains(.waiterDeleted(lid(2), resource: "a")))
        #expect(table.lockCount == 0)
        #expect(table.resourceCount == 0)
        #expect(table.nextDeadline == nil)
    }

    @Test("deleteAll on an empty table does nothing")
    func deleteAllEmpty() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        table.deleteAll(now: t0)
        #expect(table.takeEvents().isEmpty)
        #expect(table.lockCount == 0)
    }
}

@Suite("Limits")
struct LimitTests {
    @Test("the waiter beyond maxWaitersPerResource is refused with tooManyWaiters")
    func tooManyWaiters() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxWaitersPerResource: 2))
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(exclusive(), on: "r", id: lid(2), now: t0) == .queued)
        #expect(table.acquire(exclusive(), on: "r", id: lid(3), now: t0) == .queued)
        #expect(table.acquire(exclusive(), on: "r", id: lid(4), now: t0) == .refused(.tooManyWaiters))
        #expect(table.lock(lid(4), on: "r") == nil)
        #expect(table.lockCount == 3)
    }

    @Test("the waiter limit counts each resource on its own")
    func waiterLimitPerResource() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxWaitersPerResource: 1))
        _ = table.acquire(exclusive(), on: "a", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "a", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "b", id: lid(3), now: t0)
        #expect(table.acquire(exclusive(), on: "b", id: lid(4), now: t0) == .queued)
    }

    @Test("a waiter slot freed by an abandoned waiter can be taken again")
    func waiterSlotReused() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxWaitersPerResource: 1))
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        table.abandon(lid(2), now: t0)
        #expect(table.acquire(exclusive(), on: "r", id: lid(3), now: t0) == .queued)
    }

    @Test("the lock beyond maxLocks is refused with tableFull")
    func tableFull() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocks: 3))
        _ = table.acquire(exclusive(), on: "a", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "a", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "b", id: lid(3), now: t0)
        #expect(table.acquire(exclusive(), on: "c", id: lid(4), now: t0) == .refused(.tableFull))
        #expect(table.acquire(shared(), on: "b", id: lid(5), now: t0) == .refused(.tableFull))
        #expect(table.lockCount == 3)
        #expect(table.resourceCount == 2)
        #expect(table.lastFencingToken == 2)
    }

    @Test("a full table has room again once a lock expires")
    func tableFullUntilExpiry() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocks: 1))
        _ = table.acquire(exclusive(lifetime: .seconds(1)), on: "a", id: lid(1), now: t0)
        #expect(table.acquire(exclusive(), on: "b", id: lid(2), now: t0) == .refused(.tableFull))
        #expect(table.acquire(exclusive(), on: "b", id: lid(3), now: t0 + .seconds(1)).token == 2)
    }
}

@Suite("Forgetting empty resources")
struct ForgettingTests {
    @Test("a resource is forgotten when its holder releases")
    func forgottenAfterRelease() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.resourceNames == ["r"])
        _ = table.release(lid(1), on: "r", now: t0)
        #expect(table.resourceCount == 0)
        #expect(table.resourceNames.isEmpty)
    }

    @Test("a resource is forgotten when its holder expires")
    func forgottenAfterExpiry() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(1)), on: "r", id: lid(1), now: t0)
        table.advance(to: t0 + .seconds(1))
        #expect(table.resourceCount == 0)
    }

    @Test("a resource is forgotten when its waiter times out and its holder releases")
    func forgottenAfterTimeout() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(1)), on: "r", id: lid(2), now: t0)
        table.advance(to: t0 + .seconds(2))
        #expect(table.resourceCount == 1)
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(3))
        #expect(table.resourceCount == 0)
        #expect(table.lockCount == 0)
    }

    @Test("a resource is forgotten when its waiter is abandoned and its holder releases")
    func forgottenAfterAbandon() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        table.abandon(lid(2), now: t0)
        _ = table.release(lid(1), on: "r", now: t0)
        #expect(table.resourceCount == 0)
        #expect(table.lockCount == 0)
    }

    @Test("many distinct resources acquired and released leave resourceCount and lockCount at 0")
    func manyResources() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        for n in 0..<2_000 {
            let request = n.isMultiple(of: 2) ? exclusive() : shared()
            _ = table.acquire(request, on: "res\(n)", id: lid(UInt64(n)), now: t0)
        }
        #expect(table.resourceCount == 2_000)
        for n in 0..<2_000 {
            _ = table.release(lid(UInt64(n)), on: "res\(n)", now: t0 + .seconds(1))
        }
        #expect(table.resourceCount == 0)
        #expect(table.lockCount == 0)
        #expect(table.nextDeadline == nil)
    }
}

@Suite("locks(on:)")
struct LocksOnTests {
    @Test("locks(on:) lists holders first, then waiters in arrival order, skipping abandoned ones")
    func order() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(10), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(11), now: t0)
        for n in 1...5 as ClosedRange<UInt64> {
            _ = table.acquire(n == 1 ? exclusive() : shared(), on: "r", id: lid(n), now: t0 + .milliseconds(Int(n)))
        }
        table.abandon(lid(3), now: t0 + .seconds(1))
        #expect(table.ids(on: "r") == [lid(10), lid(11), lid(1), lid(2), lid(4), lid(5)])
        #expect(table.locks(on: "r").map(\.isActive) == [true, true, false, false, false, false])
        #expect(table.locks(on: "r").allSatisfy { $0.resource == "r" })
    }

    @Test("locks(on:) of an unknown resource is empty")
    func unknownResource() {
        #expect(LockTable().locks(on: "nothing").isEmpty)
    }
}
