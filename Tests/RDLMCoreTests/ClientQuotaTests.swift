import Testing
@testable import RDLMCore

/// An exclusive request from `client`.
private func from(
    _ client: String?, lifetime: Duration = .seconds(60), wait: Duration = .seconds(30)
) -> LockRequest {
    LockRequest(title: "quota", lifetime: lifetime, wait: wait, client: client)
}

/// Every way a lock leaves the table, applied to lock 2 of a table where client "c" holds
/// lock 1 on "r" and waits with lock 2 on "r", or holds lock 2 alone on "s".
enum Leaving: String, CaseIterable, Sendable {
    case holderReleased, waiterReleased, holderExpired, waitTimedOut, waiterAbandoned
    case resourceDeleted, allDeleted

    /// Whether lock 2 leaves as a waiter (queued behind lock 1) rather than as a holder.
    var asWaiter: Bool { [.waiterReleased, .waitTimedOut, .waiterAbandoned].contains(self) }
}

@Suite("Per-client lock quota")
struct ClientQuotaTests {
    @Test("a client with maxLocksPerClient locks, held or waiting, is refused with tooManyForClient")
    func refusedAtTheLimit() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 2))
        #expect(table.acquire(from("c"), on: "r", id: lid(1), now: t0).token == 1)
        #expect(table.acquire(from("c"), on: "r", id: lid(2), now: t0) == .queued)
        #expect(table.acquire(from("c"), on: "s", id: lid(3), now: t0) == .refused(.tooManyForClient))
        #expect(table.lock(lid(3), on: "s") == nil)
        #expect(table.lockCount(forClient: "c") == 2)
        #expect(table.lockCount == 2)
    }

    @Test("the limit counts each client key on its own")
    func limitIsPerClient() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 1))
        _ = table.acquire(from("10.0.0.1"), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(from("10.0.0.1"), on: "s", id: lid(2), now: t0) == .refused(.tooManyForClient))
        #expect(table.acquire(from("10.0.0.2"), on: "s", id: lid(3), now: t0).token == 2)
        #expect(table.lockCount(forClient: "10.0.0.1") == 1)
        #expect(table.lockCount(forClient: "10.0.0.2") == 1)
        #expect(table.clientCount == 2)
    }

    @Test("locks without a client key are counted against nobody")
    func nilIsNotCounted() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 1))
        for n in 1...5 {
            #expect(table.acquire(from(nil), on: "r\(n)", id: lid(UInt64(n)), now: t0).token == FencingToken(n))
        }
        #expect(table.clientCount == 0)
        #expect(table.acquire(from("c"), on: "s", id: lid(6), now: t0).token == 6)
    }

    @Test("a refused request takes no slot")
    func refusalTakesNoSlot() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 2))
        _ = table.acquire(from(nil), on: "r", id: lid(1), now: t0)
        #expect(table.acquire(from("c", wait: .zero), on: "r", id: lid(2), now: t0) == .refused(.wouldWait))
        #expect(table.lockCount(forClient: "c") == 0)
        #expect(table.clientCount == 0)
    }

    @Test("a waiter granted later keeps its one slot")
    func promotionKeepsTheSlot() {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 2))
        _ = table.acquire(from(nil), on: "r", id: lid(1), now: t0)
        _ = table.acquire(from("c"), on: "r", id: lid(2), now: t0)
        #expect(table.release(lid(1), on: "r", now: t0) == true)
        #expect(table.takeEvents().compactMap(\.grantedID) == [lid(2)])
        #expect(table.lockCount(forClient: "c") == 1)
    }

    @Test("a holder restored with a client key counts against it")
    func restoredHolderCounts() {
        let t0 = ContinuousClock.now
        let restored = LockInfo(id: lid(1), resource: "r", request: from("c"),
                                state: .active(since: t0, expires: t0 + .seconds(60), token: 7))
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 1), holders: [restored])
        #expect(table.lockCount(forClient: "c") == 1)
        #expect(table.acquire(from("c"), on: "s", id: lid(2), now: t0) == .refused(.tooManyForClient))
    }

    @Test("every way a lock leaves frees its client's slot, and an emptied client is forgotten",
          arguments: Leaving.allCases)
    func leavingFreesTheSlot(_ leaving: Leaving) {
        let t0 = ContinuousClock.now
        var table = LockTable(limits: LockTableLimits(maxLocksPerClient: 2))
        _ = table.acquire(from("c", lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        let second = from("c", lifetime: .seconds(5), wait: .seconds(5))
        _ = table.acquire(second, on: leaving.asWaiter ? "r" : "s", id: lid(2), now: t0)
        #expect(table.acquire(from("c"), on: "t", id: lid(3), now: t0) == .refused(.tooManyForClient))

        let later = t0 + .seconds(6)
        switch leaving {
        case .holderReleased: #expect(table.release(lid(2), on: "s", now: t0) == true)
        case .waiterReleased: #expect(table.release(lid(2), on: "r", now: t0) == true)
        case .holderExpired, .waitTimedOut: table.advance(to: later)
        case .waiterAbandoned: #expect(table.abandon(lid(2), now: t0) == true)
        case .resourceDeleted: #expect(table.deleteResource("s", now: t0) == true)
        case .allDeleted: table.deleteAll(now: t0)
        }
        #expect(table.lock(lid(2), on: leaving.asWaiter ? "r" : "s") == nil)
        #expect(table.lockCount(forClient: "c") == (leaving == .allDeleted ? 0 : 1))
        #expect(table.acquire(from("c"), on: "t", id: lid(3), now: later).token != nil)

        table.deleteAll(now: later)
        #expect(table.lockCount(forClient: "c") == 0)
        #expect(table.clientCount == 0)
    }
}
