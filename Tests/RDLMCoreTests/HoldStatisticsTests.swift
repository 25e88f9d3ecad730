import Testing
@testable import RDLMCore

/// What the metrics read of the table: how many hold and wait, and how long holds lasted.
@Suite("Hold statistics")
struct HoldStatisticsTests {
    @Test("holder and waiter counts follow grants, queueing, promotion, expiry and deletes")
    func counts() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(10), wait: .seconds(60)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(shared(lifetime: .seconds(10)), on: "s", id: lid(3), now: t0)
        #expect(table.holderCount == 2)
        #expect(table.waiterCount == 1)
        #expect(table.refresh(lid(1), on: "r", lifetime: nil, now: t0) != .notFound)
        #expect(table.holderCount == 2, "a refresh is no new holder")
        // Both holders expire at 10 s and the waiter is promoted.
        table.advance(to: t0 + .seconds(11))
        #expect(table.holderCount == 1)
        #expect(table.waiterCount == 0)
        table.deleteAll(now: t0 + .seconds(12))
        #expect(table.holderCount == 0)
        #expect(table.waiterCount == 0)
    }

    @Test("ended holds are recorded only when asked, with their cause and length")
    func endedHolds() {
        let t0 = ContinuousClock.now
        var quiet = LockTable()
        _ = quiet.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = quiet.release(lid(1), on: "r", now: t0 + .seconds(1))
        #expect(quiet.takeEndedHolds().isEmpty)

        var table = LockTable(recordsHoldEnds: true)
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(60)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(60)), on: "x", id: lid(3), now: t0)
        // A waiter deleted by its URL held nothing.
        _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(60)), on: "x", id: lid(4), now: t0)
        _ = table.release(lid(4), on: "x", now: t0 + .seconds(1))
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(2))
        table.advance(to: t0 + .seconds(30))
        _ = table.deleteResource("x", now: t0 + .seconds(40))
        #expect(table.takeEndedHolds() == [
            .init(heldFor: .seconds(2), cause: .released),
            // Granted at 2 s, lifetime 5 s: it expired at its own deadline, not at 30 s.
            .init(heldFor: .seconds(5), cause: .expired),
            .init(heldFor: .seconds(40), cause: .deleted),
        ])
        #expect(table.takeEndedHolds().isEmpty)
    }
}
