import Testing
@testable import RDLMCore

@Suite("Lifetime expiry and wait timeout")
struct ExpiryAndTimeoutTests {
    @Test("a holder expires at its deadline with an .expired event")
    func holderExpires() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        table.advance(to: t0 + .seconds(10))
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
        #expect(table.lock(lid(1), on: "r") == nil)
        #expect(table.lockCount == 0)
    }

    @Test("a holder has not expired one nanosecond before its deadline")
    func holderNotExpiredEarly() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        table.advance(to: t0 + .seconds(10) - .nanoseconds(1))
        #expect(table.takeEvents().isEmpty)
        #expect(table.lock(lid(1), on: "r")?.isActive == true)
    }

    @Test("a waiter is granted at the holder's expiry instant, not at the later now")
    func grantAtExpiryInstant() {
        let t0 = ContinuousClock.now
        let expiry = t0 + .seconds(10)
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(60), wait: .seconds(30)), on: "r", id: lid(2), now: t0 + .seconds(1))
        table.advance(to: t0 + .seconds(25))
        #expect(table.takeOutlines() == [
            .expired(lid(1), resource: "r"),
            .granted(lid(2), resource: "r", token: 2),
        ])
        #expect(table.lock(lid(2), on: "r")?.state == .active(since: expiry, expires: expiry + .seconds(60), token: 2))
    }

    @Test("a waiter times out at its deadline with .waitTimedOut")
    func waiterTimesOut() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .milliseconds(1500)), on: "r", id: lid(2), now: t0)
        table.advance(to: t0 + .milliseconds(1500))
        #expect(table.takeOutlines() == [.waitTimedOut(lid(2), resource: "r")])
        #expect(table.lock(lid(2), on: "r") == nil)
        #expect(table.ids(on: "r") == [lid(1)])
    }

    @Test("a waiter has not timed out one nanosecond before its deadline")
    func waiterNotTimedOutEarly() {
        let t0 = ContinuousClock.now
        let deadline = t0 + .milliseconds(1500)
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .milliseconds(1500)), on: "r", id: lid(2), now: t0)
        table.advance(to: deadline - .nanoseconds(1))
        #expect(table.takeEvents().isEmpty)
        #expect(table.lock(lid(2), on: "r")?.state == .waiting(since: t0, expires: deadline))
    }

    @Test("a timed-out waiter is never granted")
    func timedOutWaiterNeverGranted() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(1)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(30)), on: "r", id: lid(3), now: t0)
        table.advance(to: t0 + .seconds(2))
        _ = table.takeEvents()
        #expect(table.release(lid(1), on: "r", now: t0 + .seconds(3)) == true)
        #expect(table.takeOutlines() == [.granted(lid(3), resource: "r", token: 2)])
    }

    @Test("deadlines due in one advance are applied in deadline order, each at its own instant")
    func deadlinesInOrder() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(5)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(3), wait: .seconds(50)), on: "r", id: lid(3), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(60), wait: .seconds(12)), on: "r", id: lid(4), now: t0)
        table.advance(to: t0 + .seconds(100))
        // 2 gives up at 5; 1 expires at 10 and hands over to 3; 4 gives up at 12, still
        // behind 3; 3 expires at 13.
        #expect(table.takeOutlines() == [
            .waitTimedOut(lid(2), resource: "r"),
            .expired(lid(1), resource: "r"),
            .granted(lid(3), resource: "r", token: 2),
            .waitTimedOut(lid(4), resource: "r"),
            .expired(lid(3), resource: "r"),
        ])
        #expect(table.lockCount == 0)
        #expect(table.resourceCount == 0)
    }

    @Test("a holder that expired while nobody looked is replaced by the next acquire at once")
    func acquireAppliesDueDeadlines() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(exclusive(), on: "r", id: lid(2), now: t0 + .seconds(11)).token == 2)
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
    }

    @Test("a chain of waiters is granted and expires within one long advance")
    func chainWithinOneAdvance() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(1)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(1), wait: .seconds(10)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(1), wait: .seconds(10)), on: "r", id: lid(3), now: t0)
        table.advance(to: t0 + .milliseconds(2500))
        #expect(table.takeOutlines() == [
            .expired(lid(1), resource: "r"),
            .granted(lid(2), resource: "r", token: 2),
            .expired(lid(2), resource: "r"),
            .granted(lid(3), resource: "r", token: 3),
        ])
        #expect(table.lock(lid(3), on: "r")?.state
            == .active(since: t0 + .seconds(2), expires: t0 + .seconds(3), token: 3))
    }

    /// What became of lock 3, whose wait ends at the very instant the lock ahead of it expires.
    private func fateOfWaiterAtTie(grantedLater: Bool) -> LockEvent? {
        let t0 = ContinuousClock.now
        var table = LockTable()
        if grantedLater {
            // 2 gets the resource at 5 from 1 and expires at 10, when 3's wait also ends.
            _ = table.acquire(exclusive(lifetime: .seconds(5)), on: "r", id: lid(1), now: t0)
            _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(100)), on: "r", id: lid(2), now: t0)
        } else {
            // 2 holds from the start and expires at 10, when 3's wait also ends.
            _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(2), now: t0)
        }
        _ = table.acquire(exclusive(wait: .seconds(10)), on: "r", id: lid(3), now: t0)
        table.advance(to: t0 + .seconds(10))
        return table.takeEvents().first { $0.lockID == lid(3) }
    }

    @Test("a wait deadline equal to the holder's expiry is settled the same way whatever came before")
    func tieIsDeterministic() {
        let holderFromTheStart = fateOfWaiterAtTie(grantedLater: false)
        let holderGrantedLater = fateOfWaiterAtTie(grantedLater: true)
        #expect(holderFromTheStart?.grantedID == lid(3))
        #expect(holderGrantedLater?.grantedID == lid(3))
    }
}

@Suite("Refresh (lease renewal)")
struct RefreshTests {
    @Test("refresh extends the expiry to now plus the lock's lifetime")
    func refreshExtends() {
        let t0 = ContinuousClock.now
        let tr = t0 + .seconds(8)
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        let result = table.refresh(lid(1), on: "r", lifetime: nil, now: tr)
        let expected = LockInfo(
            id: lid(1), resource: "r", request: exclusive(lifetime: .seconds(10)),
            state: .active(since: t0, expires: tr + .seconds(10), token: 1))
        #expect(result == .refreshed(expected))
        #expect(table.lock(lid(1), on: "r") == expected)
    }

    @Test("refresh with a new lifetime uses it, and later refreshes keep it")
    func refreshNewLifetime() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.refresh(lid(1), on: "r", lifetime: .milliseconds(250), now: t0 + .seconds(1))
        let info = table.lock(lid(1), on: "r")
        #expect(info?.deadline == t0 + .milliseconds(1250))
        #expect(info?.request.lifetime == .milliseconds(250))
        _ = table.refresh(lid(1), on: "r", lifetime: nil, now: t0 + .milliseconds(1200))
        #expect(table.lock(lid(1), on: "r")?.deadline == t0 + .milliseconds(1450))
    }

    @Test("refresh keeps active-since and the fencing token")
    func refreshKeepsSinceAndToken() {
        let t0 = ContinuousClock.now
        var table = LockTable(lastFencingToken: 7)
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.refresh(lid(1), on: "r", lifetime: nil, now: t0 + .seconds(5))
        let info = table.lock(lid(1), on: "r")
        #expect(info?.fencingToken == 8)
        if case .active(let since, _, _) = info?.state {
            #expect(since == t0)
        } else {
            Issue.record("the refreshed lock should be active")
        }
        #expect(table.lastFencingToken == 8)
    }

    @Test("a refreshed lock does not expire at its old deadline")
    func refreshedNotExpiredAtOldDeadline() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(60)), on: "r", id: lid(2), now: t0)
        _ = table.refresh(lid(1), on: "r", lifetime: nil, now: t0 + .seconds(9))
        table.advance(to: t0 + .seconds(10))
        #expect(table.takeEvents().isEmpty)
        #expect(table.holderIDs(on: "r") == [lid(1)])
    }

    @Test("a refreshed lock expires at its new deadline")
    func refreshedExpiresAtNewDeadline() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.refresh(lid(1), on: "r", lifetime: nil, now: t0 + .seconds(9))
        table.advance(to: t0 + .seconds(19) - .nanoseconds(1))
        #expect(table.takeEvents().isEmpty)
        table.advance(to: t0 + .seconds(19))
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
    }

    @Test("a shorter refreshed lifetime makes the lock expire earlier than before")
    func refreshShortens() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(60)), on: "r", id: lid(1), now: t0)
        _ = table.refresh(lid(1), on: "r", lifetime: .seconds(1), now: t0 + .seconds(1))
        #expect(table.nextDeadline == t0 + .seconds(2))
        table.advance(to: t0 + .seconds(2))
        #expect(table.takeOutlines() == [.expired(lid(1), resource: "r")])
    }

    @Test("refresh of a waiting lock is .notActive and changes nothing")
    func refreshWaiting() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(5)), on: "r", id: lid(2), now: t0)
        let before = table.lock(lid(2), on: "r")
        #expect(table.refresh(lid(2), on: "r", lifetime: .seconds(99), now: t0 + .seconds(1)) == .notActive)
        #expect(table.lock(lid(2), on: "r") == before)
    }

    @Test("refresh of an unknown lock is .notFound")
    func refreshUnknown() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        #expect(table.refresh(lid(1), on: "r", lifetime: nil, now: t0) == .notFound)
    }

    @Test("refresh with the wrong resource name is .notFound")
    func refreshWrongResource() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        #expect(table.refresh(lid(1), on: "s", lifetime: nil, now: t0) == .notFound)
        #expect(table.lock(lid(1), on: "r")?.deadline == t0 + .seconds(10))
    }

    @Test("refresh after the lifetime ran out never re-acquires the lock")
    func refreshAfterExpiry() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(60)), on: "r", id: lid(2), now: t0)
        #expect(table.refresh(lid(1), on: "r", lifetime: nil, now: t0 + .seconds(10)) == .notFound)
        #expect(table.holderIDs(on: "r") == [lid(2)])
        #expect(table.takeOutlines() == [
            .expired(lid(1), resource: "r"),
            .granted(lid(2), resource: "r", token: 2),
        ])
    }
}

@Suite("nextDeadline")
struct NextDeadlineTests {
    @Test("nextDeadline is nil for an empty table")
    func emptyTable() {
        #expect(LockTable().nextDeadline == nil)
    }

    @Test("nextDeadline is the earliest expiry or wait deadline")
    func earliest() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "a", id: lid(1), now: t0)
        #expect(table.nextDeadline == t0 + .seconds(10))
        _ = table.acquire(exclusive(lifetime: .seconds(4)), on: "b", id: lid(2), now: t0)
        #expect(table.nextDeadline == t0 + .seconds(4))
        _ = table.acquire(exclusive(wait: .seconds(2)), on: "a", id: lid(3), now: t0)
        #expect(table.nextDeadline == t0 + .seconds(2))
    }

    @Test("nextDeadline moves on when the earliest lock is released")
    func movesOnRelease() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(4)), on: "a", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "b", id: lid(2), now: t0)
        _ = table.release(lid(1), on: "a", now: t0 + .seconds(1))
        #expect(table.nextDeadline == t0 + .seconds(10))
    }

    @Test("nextDeadline follows a waiter's grant from its wait deadline to its expiry")
    func followsGrant() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(100)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(50), wait: .seconds(5)), on: "r", id: lid(2), now: t0)
        #expect(table.nextDeadline == t0 + .seconds(5))
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(1))
        #expect(table.nextDeadline == t0 + .seconds(51))
    }

    @Test("nextDeadline follows a refresh")
    func followsRefresh() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(4)), on: "a", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "b", id: lid(2), now: t0)
        _ = table.refresh(lid(1), on: "a", lifetime: nil, now: t0 + .seconds(3))
        #expect(table.nextDeadline == t0 + .seconds(7))
        _ = table.refresh(lid(1), on: "a", lifetime: .seconds(30), now: t0 + .seconds(3))
        #expect(table.nextDeadline == t0 + .seconds(10))
    }

    @Test("nextDeadline is nil again once every lock is gone")
    func nilWhenDrained() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(4)), on: "a", id: lid(1), now: t0)
        _ = table.acquire(exclusive(wait: .seconds(2)), on: "a", id: lid(2), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(1)), on: "b", id: lid(3), now: t0)
        table.advance(to: t0 + .seconds(60))
        #expect(table.nextDeadline == nil)
        #expect(table.lockCount == 0)
    }
}
