import Testing
@testable import RDLMCore

@Suite("Giving back room after a crowd")
struct CompactionTests {
    @Test("a sparse dictionary and array are rebuilt smaller with the same contents; dense ones are left")
    func shrinkIfSparse() {
        var dictionary: [Int: String] = [:]
        for key in 0..<10_000 { dictionary[key] = "v\(key)" }
        for key in 10..<10_000 { dictionary[key] = nil }
        let roomy = dictionary.capacity
        dictionary.shrinkIfSparse()
        #expect(dictionary.capacity < roomy / 8)
        #expect(dictionary == Dictionary(uniqueKeysWithValues: (0..<10).map { ($0, "v\($0)") }))

        var array = Array(0..<10_000)
        array.removeLast(9_990)
        array.shrinkIfSparse()
        #expect(array.capacity < 1_024)
        #expect(array == Array(0..<10))

        var dense = Array(0..<2_000)
        let denseRoom = dense.capacity
        dense.shrinkIfSparse()
        #expect(dense.capacity == denseRoom)
    }

    @Test("after a crowd of waiters has left, compact keeps the table's locks, queue and deadlines working")
    func compactAfterCrowd() {
        let t0 = ContinuousClock.now
        var table = LockTable()
        let first = table.acquire(exclusive(lifetime: .seconds(60)), on: "r", id: lid(0), now: t0)
        #expect(first.token == 1)
        for index in 1...5_000 {
            let result = table.acquire(exclusive(lifetime: .seconds(60), wait: .seconds(30)), on: "r", id: lid(UInt64(index)), now: t0)
            #expect(result == .queued)
        }
        for index in 1...4_998 {
            let released = table.release(lid(UInt64(index)), on: "r", now: t0)
            #expect(released)
        }
        table.compact()
        #expect(table.lockCount == 3)
        // The holder's release hands over to the two waiters left, in order; their wait
        // deadlines still fire.
        let released = table.release(lid(0), on: "r", now: t0 + .seconds(1))
        #expect(released)
        let handover = table.takeOutlines()
        #expect(handover.contains(.granted(lid(4_999), resource: "r", token: 2)))
        table.advance(to: t0 + .seconds(31))
        let timeouts = table.takeEvents()
        #expect(timeouts.contains(.waitTimedOut(lid(5_000), resource: "r")))
        #expect(table.lockCount == 1)
    }
}
