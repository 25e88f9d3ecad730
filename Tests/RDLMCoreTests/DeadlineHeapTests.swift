import Testing
@testable import RDLMCore

@Suite("DeadlineHeap")
struct DeadlineHeapTests {
    @Test("an empty heap has no earliest entry and nothing due")
    func empty() {
        var heap = DeadlineHeap<Int>()
        #expect(heap.isEmpty)
        #expect(heap.count == 0)
        #expect(heap.earliest == nil)
        #expect(heap.popDue(at: ContinuousClock.now + .seconds(1_000)) == nil)
    }

    @Test("popDue returns the due entries in deadline order, and only those")
    func popDueOrder() {
        let t0 = ContinuousClock.now
        var heap = DeadlineHeap<String>()
        let deadlines = ["e": 5, "b": 2, "g": 7, "a": 1, "d": 4, "c": 3, "f": 6]
        for (key, second) in deadlines {
            heap.set(key, to: t0 + .seconds(second))
        }
        var popped: [String] = []
        while let (deadline, key) = heap.popDue(at: t0 + .seconds(4)) {
            #expect(deadline == t0 + .seconds(deadlines[key]!))
            popped.append(key)
        }
        #expect(popped == ["a", "b", "c", "d"])
        #expect(heap.count == 3)
        #expect(heap.earliest?.key == "e")
    }

    @Test("an entry is due exactly at its deadline, not a nanosecond before")
    func dueAtDeadline() {
        let t0 = ContinuousClock.now
        var heap = DeadlineHeap<Int>()
        heap.set(1, to: t0 + .seconds(1))
        #expect(heap.popDue(at: t0 + .seconds(1) - .nanoseconds(1)) == nil)
        #expect(heap.popDue(at: t0 + .seconds(1))?.key == 1)
    }

    @Test("set on an existing key moves it instead of adding a second entry")
    func setMoves() {
        let t0 = ContinuousClock.now
        var heap = DeadlineHeap<Int>()
        heap.set(1, to: t0 + .seconds(1))
        heap.set(2, to: t0 + .seconds(2))
        heap.set(1, to: t0 + .seconds(3))
        #expect(heap.count == 2)
        #expect(heap.earliest?.key == 2)
        heap.set(1, to: t0)
        #expect(heap.earliest?.key == 1)
        #expect(heap.earliest?.deadline == t0)
    }

    @Test("remove of an absent key does nothing")
    func removeAbsent() {
        let t0 = ContinuousClock.now
        var heap = DeadlineHeap<Int>()
        heap.remove(7)
        heap.set(1, to: t0)
        heap.remove(7)
        #expect(heap.count == 1)
    }

    @Test("a heap emptied by removal is usable again")
    func reuseAfterDrain() {
        let t0 = ContinuousClock.now
        var heap = DeadlineHeap<Int>()
        for key in 0..<50 { heap.set(key, to: t0 + .milliseconds(key)) }
        for key in 0..<50 { heap.remove(key) }
        #expect(heap.isEmpty)
        #expect(heap.earliest == nil)
        heap.set(3, to: t0)
        #expect(heap.earliest?.key == 3)
        #expect(heap.count == 1)
    }

    @Test("random set, move and remove agree with a reference model", arguments: [1, 2, 3, 42] as [UInt64])
    func randomAgainstModel(seed: UInt64) {
        let t0 = ContinuousClock.now
        var generator = SeededGenerator(seed: seed)
        var heap = DeadlineHeap<Int>()
        var model: [Int: ContinuousClock.Instant] = [:]
        for _ in 0..<5_000 {
            let key = Int.random(in: 0..<200, using: &generator)
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<6:
                // Few distinct deadlines, so ties are frequent too.
                let deadline = t0 + .milliseconds(Int.random(in: 0..<300, using: &generator))
                heap.set(key, to: deadline)
                model[key] = deadline
            case 6..<9:
                heap.remove(key)
                model[key] = nil
            default:
                let now = t0 + .milliseconds(Int.random(in: 0..<60, using: &generator))
                var last: ContinuousClock.Instant?
                while let (deadline, popped) = heap.popDue(at: now) {
                    #expect(model[popped] == deadline)
                    #expect(deadline <= now)
                    if let last { #expect(last <= deadline) }
                    last = deadline
                    model[popped] = nil
                }
                #expect(model.values.allSatisfy { $0 > now })
            }
            #expect(heap.count == model.count)
            #expect(heap.isEmpty == model.isEmpty)
            if let earliest = heap.earliest {
                #expect(model[earliest.key] == earliest.deadline)
                #expect(earliest.deadline == model.values.min())
            } else {
                #expect(model.isEmpty)
            }
        }
        // Drain: everything comes out in deadline order, each key once.
        var drained: [Int] = []
        var last: ContinuousClock.Instant?
        while let (deadline, key) = heap.popDue(at: t0 + .seconds(1)) {
            #expect(model[key] == deadline)
            if let last { #expect(last <= deadline) }
            last = deadline
            drained.append(key)
        }
        #expect(drained.count == model.count)
        #expect(Set(drained) == Set(model.keys))
        #expect(heap.isEmpty)
    }
}
