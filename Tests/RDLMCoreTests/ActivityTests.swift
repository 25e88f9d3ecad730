import Testing
@testable import RDLMCore

/// What the metrics and the event stream read of the table: how many hold and wait, and
/// every change as it happened.
@Suite("Activity and counts")
struct ActivityTests {
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

    @Test("every change is recorded, in order, only when asked")
    func activity() {
        let t0 = ContinuousClock.now
        var quiet = LockTable()
        _ = quiet.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = quiet.release(lid(1), on: "r", now: t0 + .seconds(1))
        #expect(quiet.takeActivity().isEmpty)

        var table = LockTable(recordsActivity: true)
        _ = table.acquire(exclusive(lifetime: .seconds(10)), on: "r", id: lid(1), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(60)), on: "r", id: lid(2), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(60)), on: "x", id: lid(3), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(60)), on: "x", id: lid(4), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(1)), on: "x", id: lid(5), now: t0)
        _ = table.acquire(exclusive(lifetime: .seconds(5), wait: .seconds(60)), on: "x", id: lid(6), now: t0)
        _ = table.release(lid(4), on: "x", now: t0 + .seconds(1))
        _ = table.refresh(lid(1), on: "r", lifetime: nil, now: t0 + .seconds(1))
        _ = table.release(lid(1), on: "r", now: t0 + .seconds(2))
        table.abandon(lid(6), now: t0 + .seconds(3))
        table.advance(to: t0 + .seconds(30))
        _ = table.deleteResource("x", now: t0 + .seconds(40))
        let changes = table.takeActivity()
        #expect(changes.map { "\($0.kind) \($0.lock.id.low)" } == [
            "granted 1", "waiting 2", "granted 3", "waiting 4", "waiting 5", "waiting 6",
            // The release at 1 s first applies what was due: the 1 s wait of 5 ran out.
            "withdrawn 5", "withdrawn 4", "refreshed 1", "released 1", "granted 2", "withdrawn 6",
            // Granted at 2 s for 5 s: it expired at 7 s, its own deadline, not at 30 s.
            "expired 2", "deleted 3",
        ])
        #expect(changes.map(\.at) == [t0, t0, t0, t0, t0, t0, t0 + .seconds(1), t0 + .seconds(1), t0 + .seconds(1),
                                       t0 + .seconds(2), t0 + .seconds(2), t0 + .seconds(3), t0 + .seconds(7), t0 + .seconds(40)])
        #expect(changes.compactMap(\.heldFor) == [.seconds(2), .seconds(5), .seconds(40)])
        #expect(changes.first { $0.kind == .granted && $0.lock.id == lid(2) }?.lock.fencingToken == 3)
        #expect(table.takeActivity().isEmpty)
    }
}
