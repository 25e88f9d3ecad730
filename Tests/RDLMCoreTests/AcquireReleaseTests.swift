import Testing
@testable import RDLMCore

@Suite("Acquire and release")
struct AcquireReleaseTests {
    @Test("a free resource is granted at once with fencing token 1")
    func immediateGrant() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        let result = table.acquire(exclusive(lifetime: .seconds(60)), on: "r", id: lid(1), now: t0)
        #expect(result.token == 1)
        let info = table.lock(lid(1), on: "r")
        #expect(info?.state == .active(since: t0, expires: t0 + .seconds(60), token: 1))
        #expect(info?.fencingToken == 1)
        #expect(info?.request == exclusive(lifetime: .seconds(60)))
        #expect(table.lockCount == 1)
        #expect(table.resourceCount == 1)
        #expect(table.lastFencingToken == 1)
    }

    @Test("an immediate grant carries the lock as the table now holds it")
    func immediateGrantCarriesTheLock() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        let result = table.acquire(shared(lifetime: .seconds(5)), on: "r", id: lid(1), now: t0)
        let expected = LockInfo(id: lid(1), resource: "r", request: shared(lifetime: .seconds(5)),
                                state: .active(since: t0, expires: t0 + .seconds(5), token: 1))
        #expect(result == .granted(expected))
        #expect(table.lock(lid(1), on: "r") == expected)
    }

    @Test("a waiter's grant event carries the lock as the table now holds it")
    func grantEventCarriesTheLock() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(7)), on: "r", id: lid(2), now: t0)
        #expect(table.release(lid(1), on: "r", now: t0 + .seconds(1)) == true)
        let expected = LockInfo(id: lid(2), resource: "r", request: exclusive(lifetime: .seconds(7)),
                                state: .active(since: t0 + .seconds(1), expires: t0 + .seconds(8), token: 2))
        #expect(table.takeEvents() == [.granted(expected)])
        #expect(table.lock(lid(2), on: "r") == expected)
    }

    @Test("the caller's own immediate grant is not an event")
    func ownGrantIsNoEvent() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.takeEvents().isEmpty)
    }

    @Test("fencing tokens strictly increase across successive grants on one resource")
    func tokensIncreaseOnOneResource() throws {
        let t0 = ContinuousClock.now
        var table = LockTable()
        var tokens: [FencingToken] = []
        for n in 1...5 {
            let now = t0 + .seconds(n)
            let result = table.acquire(exclusive(), on: "r", id: lid(UInt64(n)), now: now)
            tokens.append(try #require(result.token))
            #expect(table.release(lid(UInt64(n)), on: "r", now: now) == true)
        }
        #expect(tokens == [1, 2, 3, 4, 5])
    }

    @Test("fencing tokens strictly increase across resources")
    func tokensIncreaseAcrossResources() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        let a = table.acquire(exclusive(), on: "a", id: lid(1), now: t0)
        let b = table.acquire(exclusive(), on: "b", id: lid(2), now: t0)
        let c = table.acquire(shared(), on: "c", id: lid(3), now: t0)
        #expect([a, b, c].map(\.token) == [1, 2, 3])
    }

    @Test("a waiter granted later gets a token above every token granted before it")
    func waiterTokenIsNext() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(exclusive(), on: "r", id: lid(2), now: t0) == .queued)
        _ = table.acquire(exclusive(), on: "other", id: lid(3), now: t0)
        #expect(table.release(lid(1), on: "r", now: t0 + .seconds(1)) == true)
        #expect(table.takeOutlines() == [.granted(lid(2), resource: "r", token: 3)])
        #expect(table.lock(lid(2), on: "r")?.fencingToken == 3)
    }

    @Test("a table seeded with lastFencingToken N grants N+1 first", arguments: [0, 41, 1_000_000] as [FencingToken])
    func seededTable(seed: FencingToken) {
        let t0 = ContinuousClock.now
        var table = LockTable(lastFencingToken: seed)
        #expect(table.lastFencingToken == seed)
        #expect(table.acquire(exclusive(), on: "r", id: lid(1), now: t0).token == seed + 1)
        #expect(table.acquire(exclusive(), on: "s", id: lid(2), now: t0).token == seed + 2)
        #expect(table.lastFencingToken == seed + 2)
    }

    @Test("an exclusive request on a held resource is queued as a waiting lock without a token")
    func queuedWhenHeld() {
        let t0 = ContinuousClock.now
        let t1 = t0 + .seconds(1)
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        let result = table.acquire(exclusive(wait: .seconds(20)), on: "r", id: lid(2), now: t1)
        #expect(result == .queued)
        let info = table.lock(lid(2), on: "r")
        #expect(info?.state == .waiting(since: t1, expires: t1 + .seconds(20)))
        #expect(info?.isActive == false)
        #expect(info?.fencingToken == nil)
        #expect(info?.deadline == t1 + .seconds(20))
        #expect(table.lockCount == 2)
        #expect(table.resourceCount == 1)
        #expect(table.takeEvents().isEmpty)
    }

    @Test("exclusive waiters are granted in FIFO order as each holder releases")
    func fifoOrder() throws {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        for n in 2...5 {
            let result = table.acquire(exclusive(), on: "r", id: lid(UInt64(n)), now: t0 + .milliseconds(n))
            #expect(result == .queued)
        }
        var granted: [LockID] = []
        var holder = lid(1)
        for step in 1...4 {
            #expect(table.release(holder, on: "r", now: t0 + .seconds(step)) == true)
            let events = table.takeEvents()
            #expect(events.count == 1)
            holder = try #require(events.first?.grantedID)
            granted.append(holder)
        }
        #expect(granted == [lid(2), lid(3), lid(4), lid(5)])
    }

    @Test("a waiter granted on release is active from the release instant for its own lifetime")
    func grantOnReleaseTiming() {
        let t0 = ContinuousClock.now
        let tr = t0 + .seconds(7)
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(60)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5)), on: "r", id: lid(2), now: t0 + .seconds(1))
        #expect(table.release(lid(1), on: "r", now: tr) == true)
        #expect(table.takeOutlines() == [.granted(lid(2), resource: "r", token: 2)])
        #expect(table.lock(lid(2), on: "r")?.state == .active(since: tr, expires: tr + .seconds(5), token: 2))
        #expect(table.lock(lid(1), on: "r") == nil)
    }

    @Test("releasing the last holder with nobody waiting emits no event")
    func releaseWithoutWaiters() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.release(lid(1), on: "r", now: t0 + .seconds(1)) == true)
        #expect(table.takeEvents().isEmpty)
        #expect(table.lock(lid(1), on: "r") == nil)
        #expect(table.lockCount == 0)
    }

    @Test("try-lock (wait zero) on a held resource is refused with wouldWait")
    func tryLockRefused() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        let result = table.acquire(exclusive(wait: .zero), on: "r", id: lid(2), now: t0 + .seconds(1))
        #expect(result == .refused(.wouldWait))
    }

    @Test("a refused try-lock leaves the table unchanged")
    func tryLockLeavesNoTrace() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        let deadlineBefore = table.nextDeadline
        _ = table.acquire(exclusive(wait: .zero), on: "r", id: lid(2), now: t0 + .seconds(1))
        #expect(table.lockCount == 1)
        #expect(table.resourceCount == 1)
        #expect(table.lock(lid(2), on: "r") == nil)
        #expect(table.ids(on: "r") == [lid(1)])
        #expect(table.nextDeadline == deadlineBefore)
        #expect(table.lastFencingToken == 1)
        #expect(table.takeEvents().isEmpty)
    }

    @Test("try-lock (wait zero) on a free resource is granted")
    func tryLockGranted() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        #expect(table.acquire(exclusive(wait: .zero), on: "r", id: lid(1), now: t0).token == 1)
    }

    @Test("releasing a waiting lock removes it and emits waiterDeleted")
    func releaseWaiter() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        #expect(table.release(lid(2), on: "r", now: t0 + .seconds(1)) == true)
        #expect(table.takeOutlines() == [.waiterDeleted(lid(2), resource: "r")])
        #expect(table.lock(lid(2), on: "r") == nil)
        #expect(table.ids(on: "r") == [lid(1)])
        #expect(table.lockCount == 1)
    }

    @Test("a released waiter is not granted when the holder later releases")
    func releasedWaiterNeverGranted() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(3), now: t0)
        _ = table.release(lid(2), on: "r", now: t0)
        _ = table.takeEvents()
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(1))
        #expect(table.takeOutlines() == [.granted(lid(3), resource: "r", token: 2)])
    }

    @Test("release with the wrong resource name returns false and keeps the lock")
    func releaseWrongResource() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        #expect(table.release(lid(1), on: "other", now: t0) == false)
        #expect(table.release(lid(2), on: "other", now: t0) == false)
        #expect(table.lock(lid(1), on: "r")?.isActive == true)
        #expect(table.lock(lid(2), on: "r")?.isActive == false)
        #expect(table.lockCount == 2)
        #expect(table.takeEvents().isEmpty)
    }

    @Test("release of an unknown id returns false")
    func releaseUnknown() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        #expect(table.release(lid(9), on: "r", now: t0) == false)
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.release(lid(9), on: "r", now: t0) == false)
        #expect(table.lockCount == 1)
    }

    @Test("releasing the same lock twice returns false the second time")
    func releaseTwice() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.release(lid(1), on: "r", now: t0) == true)
        #expect(table.release(lid(1), on: "r", now: t0) == false)
    }

    @Test("lock(_:on:) finds a lock only on its own resource")
    func lookupNeedsResource() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.lock(lid(1), on: "r")?.resource == "r")
        #expect(table.lock(lid(1), on: "R") == nil)
        #expect(table.lock(lid(2), on: "r") == nil)
    }

    @Test("takeEvents hands each event over once")
    func eventsTakenOnce() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(), on: "r", id: lid(2), now: t0)
        _ = table.release(lid(1), on: "r", now: t0)
        #expect(table.takeEvents().count == 1)
        #expect(table.takeEvents().isEmpty)
    }

    @Test("an id already in use is refused and leaves the table as it was")
    func duplicateIDRefused() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(exclusive(), on: "s", id: lid(1), now: t0) == .refused(.duplicateID))
        #expect(table.lockCount == 1)
        #expect(table.resourceCount == 1)
        let released = table.release(lid(1), on: "r", now: t0)
        #expect(released)
        #expect(table.resourceCount == 0)
    }

    @Test("a refresh for no time at all expires the lock at once")
    func zeroRefreshExpires() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.refresh(lid(1), on: "r", lifetime: .zero, now: t0 + .seconds(1))
        #expect(table.lock(lid(1), on: "r") == nil)
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
    }
}
