import Testing
@testable import RDLMCore

@Suite("Shared and exclusive modes")
struct SharedLockTests {
    @Test("several shared requests hold the resource at once")
    func sharedHoldersTogether() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        let results = (1...3).map { n in
            table.acquire(shared(), on: "r", id: lid(UInt64(n)), now: t0 + .milliseconds(n))
        }
        #expect(results.map(\.token) == [1, 2, 3])
        #expect(table.holderIDs(on: "r") == [lid(1), lid(2), lid(3)])
        #expect(table.waiterIDs(on: "r").isEmpty)
    }

    @Test("an exclusive request behind shared holders is queued")
    func exclusiveWaitsForShared() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(2), now: t0)
        #expect(table.acquire(exclusive(), on: "r", id: lid(3), now: t0) == .queued)
    }

    @Test("a shared request on an exclusively held resource is queued")
    func sharedWaitsForExclusive() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(shared(), on: "r", id: lid(2), now: t0) == .queued)
    }

    @Test("a shared request arriving after a queued exclusive is queued, not granted (no starvation)")
    func noWriterStarvation() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        #expect(table.acquire(shared(), on: "r", id: lid(3), now: t0) == .queued)
        #expect(table.holderIDs(on: "r") == [lid(1)])
        #expect(table.waiterIDs(on: "r") == [lid(2), lid(3)])
    }

    @Test("a shared try-lock behind a queued exclusive is refused with wouldWait")
    func sharedTryLockBehindQueue() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        #expect(table.acquire(shared(wait: .zero), on: "r", id: lid(3), now: t0) == .refused(.wouldWait))
        #expect(table.lockCount == 2)
    }

    @Test("a shared try-lock joins shared holders when nobody waits")
    func sharedTryLockJoins() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(shared(wait: .zero), on: "r", id: lid(2), now: t0).token == 2)
    }

    @Test("the queued exclusive is granted only when the last shared holder releases")
    func exclusiveAfterAllShared() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(3), now: t0)
        #expect(table.release(lid(1), on: "r", now: t0 + .seconds(1)) == true)
        #expect(table.takeEvents().isEmpty)
        #expect(table.release(lid(2), on: "r", now: t0 + .seconds(2)) == true)
        #expect(table.takeOutlines() == [.granted(lid(3), resource: "r", token: 3)])
        #expect(table.holderIDs(on: "r") == [lid(3)])
    }

    @Test("after the exclusive releases, the consecutive shared waiters are granted together")
    func sharedRunGrantedTogether() {
        let t0 = ContinuousClock.now
        let tr = t0 + .seconds(5)
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(3), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(4), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(5), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(6), now: t0)
        #expect(table.release(lid(1), on: "r", now: tr) == true)
        #expect(table.takeOutlines() == [
            .granted(lid(2), resource: "r", token: 2),
            .granted(lid(3), resource: "r", token: 3),
            .granted(lid(4), resource: "r", token: 4),
        ])
        #expect(table.holderIDs(on: "r") == [lid(2), lid(3), lid(4)])
        #expect(table.waiterIDs(on: "r") == [lid(5), lid(6)])
        for n in 2...4 {
            #expect(table.lock(lid(UInt64(n)), on: "r")?.state
                == .active(since: tr, expires: tr + .seconds(60), token: FencingToken(n)))
        }
    }

    @Test("modes alternate through the queue in arrival order")
    func alternatingModes() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(3), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(4), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(5), now: t0)
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(1))
        #expect(table.takeEvents().compactMap(\.grantedID) == [lid(2)])
        _ = table.release(lid(2), on: "r", now: t0 + .seconds(2))
        #expect(table.takeEvents().compactMap(\.grantedID) == [lid(3), lid(4)])
        _ = table.release(lid(4), on: "r", now: t0 + .seconds(3))
        #expect(table.takeEvents().isEmpty)
        _ = table.release(lid(3), on: "r", now: t0 + .seconds(4))
        #expect(table.takeEvents().compactMap(\.grantedID) == [lid(5)])
    }

    @Test("shared holders expiring one by one hand over to the exclusive when the last one expires")
    func sharedExpiry() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(lifetime: .seconds(3)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(shared(lifetime: .seconds(6)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(30)), on: "r", id: lid(3), now: t0)
        table.advance(to: t0 + .seconds(4))
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
        table.advance(to: t0 + .seconds(9))
        #expect(table.takeOutlines() == [
            .expired(lid(2), resource: "r"),
            .granted(lid(3), resource: "r", token: 3),
        ])
        #expect(table.lock(lid(3), on: "r")?.state
            == .active(since: t0 + .seconds(6), expires: t0 + .seconds(66), token: 3))
    }

    @Test("releasing the head exclusive waiter lets the shared waiters behind it in")
    func releaseHeadExclusiveWaiter() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(3), now: t0)
        #expect(table.release(lid(2), on: "r", now: t0 + .seconds(1)) == true)
        #expect(table.takeOutlines() == [
            .waiterDeleted(lid(2), resource: "r"),
            .granted(lid(3), resource: "r", token: 2),
        ])
    }

    @Test("the head exclusive waiter timing out lets the shared waiters behind it in at its deadline")
    func headExclusiveTimesOut() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(2)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(3), now: t0)
        table.advance(to: t0 + .seconds(10))
        #expect(table.takeOutlines() == [
            .waitTimedOut(lid(2), resource: "r"),
            .granted(lid(3), resource: "r", token: 2),
        ])
        #expect(table.lock(lid(3), on: "r")?.state
            == .active(since: t0 + .seconds(2), expires: t0 + .seconds(62), token: 2))
    }
}

@Suite("Abandoned waiters")
struct AbandonTests {
    @Test("abandon removes a waiter silently, without an event")
    func abandonIsSilent() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        #expect(table.abandon(lid(2), now: t0 + .seconds(1)) == true)
        #expect(table.takeEvents().isEmpty)
        #expect(table.lock(lid(2), on: "r") == nil)
        #expect(table.lockCount == 1)
    }

    @Test("an abandoned waiter never becomes a holder")
    func abandonedNeverGranted() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(3), now: t0)
        table.abandon(lid(2), now: t0)
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(1))
        #expect(table.takeOutlines() == [.granted(lid(3), resource: "r", token: 2)])
        _ = table.release(lid(3), on: "r", now: t0 + .seconds(2))
        #expect(table.takeEvents().isEmpty)
        #expect(table.lockCount == 0)
    }

    @Test("an abandoned waiter's wait deadline produces no event")
    func abandonedNoTimeout() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(5)), on: "r", id: lid(2), now: t0)
        table.abandon(lid(2), now: t0 + .seconds(1))
        #expect(table.nextDeadline == t0 + .seconds(60))
        table.advance(to: t0 + .seconds(10))
        #expect(table.takeEvents().isEmpty)
    }

    @Test("abandoning the head exclusive waiter lets the shared waiters behind it in, while holders are shared")
    func abandonHeadExclusive() {
        let t0 = ContinuousClock.now
        let ta = t0 + .seconds(3)
        var table = LockTable()
        _ = table.acquire(shared(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(3), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(4), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(5), now: t0)
        #expect(table.abandon(lid(2), now: ta) == true)
        #expect(table.takeOutlines() == [
            .granted(lid(3), resource: "r", token: 2),
            .granted(lid(4), resource: "r", token: 3),
        ])
        #expect(table.holderIDs(on: "r") == [lid(1), lid(3), lid(4)])
        #expect(table.waiterIDs(on: "r") == [lid(5)])
        #expect(table.lock(lid(3), on: "r")?.state == .active(since: ta, expires: ta + .seconds(60), token: 2))
    }

    @Test("abandoning the head waiter behind an exclusive holder grants nobody")
    func abandonHeadBehindExclusive() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(), on: "r", id: lid(3), now: t0)
        table.abandon(lid(2), now: t0)
        #expect(table.takeEvents().isEmpty)
        #expect(table.waiterIDs(on: "r") == [lid(3)])
    }

    @Test("abandon of a holder returns false and keeps it")
    func abandonHolder() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.abandon(lid(1), now: t0) == false)
        #expect(table.lock(lid(1), on: "r")?.isActive == true)
    }

    @Test("abandon of an unknown id returns false")
    func abandonUnknown() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        #expect(table.abandon(lid(1), now: t0) == false)
    }

    @Test("abandoning the same waiter twice returns false the second time")
    func abandonTwice() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        #expect(table.abandon(lid(2), now: t0) == true)
        #expect(table.abandon(lid(2), now: t0) == false)
    }

    @Test("a waiter that already timed out cannot be abandoned")
    func abandonAfterTimeout() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(1)), on: "r", id: lid(2), now: t0)
        #expect(table.abandon(lid(2), now: t0 + .seconds(1)) == false)
        #expect(table.takeOutlines() == [.waitTimedOut(lid(2), resource: "r")])
    }
}
