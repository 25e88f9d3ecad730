/// A binary min-heap of deadlines, one per key, that can move or remove any key in
/// O(log n). Removal matters: a released lock's deadline leaves at once instead of
/// lingering until it would have fired, so the heap never outgrows the live locks.
///
/// Equal deadlines are ordered by `rank` (lower first), so that what happens at one instant
/// never depends on the order in which the heap was filled.
struct DeadlineHeap<Key: Hashable & Sendable>: Sendable {
    private struct Entry: Sendable {
        var deadline: ContinuousClock.Instant
        var rank: UInt8
        var key: Key

        func precedes(_ other: Entry) -> Bool {
            deadline < other.deadline || (deadline == other.deadline && rank < other.rank)
        }
    }

    private var entries: [Entry] = []
    private var positions: [Key: Int] = [:]

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// The earliest deadline, if any.
    var earliest: (deadline: ContinuousClock.Instant, key: Key)? {
        entries.first.map { ($0.deadline, $0.key) }
    }

    /// Sets the deadline of `key`, inserting it or moving it.
    mutating func set(_ key: Key, to deadline: ContinuousClock.Instant, rank: UInt8 = 0) {
        let entry = Entry(deadline: deadline, rank: rank, key: key)
        if let index = positions[key] {
            let old = entries[index]
            entries[index] = entry
            if entry.precedes(old) { siftUp(index) } else { siftDown(index) }
        } else {
            entries.append(entry)
            positions[key] = entries.count - 1
            siftUp(entries.count - 1)
        }
    }

    mutating func remove(_ key: Key) {
        guard let index = positions.removeValue(forKey: key) else { return }
        let last = entries.count - 1
        if index != last {
            entries.swapAt(index, last)
            positions[entries[index].key] = index
        }
        entries.removeLast()
        if index < entries.count {
            siftDown(index)
            siftUp(index)
        }
        if entries.isEmpty {
            // Give the memory of a drained burst back.
            entries = []
            positions = [:]
        }
    }

    /// Gives back the room of a burst that has left (see `shrinkIfSparse`).
    mutating func compact() {
        entries.shrinkIfSparse()
        positions.shrinkIfSparse()
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(at now: ContinuousClock.Instant) -> (deadline: ContinuousClock.Instant, key: Key)? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        remove(first.key)
        return (first.deadline, first.key)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            swapEntries(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = entries.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            var smallest = left
            if right < count && entries[right].precedes(entries[left]) { smallest = right }
            guard entries[smallest].precedes(entries[parent]) else { break }
            swapEntries(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapEntries(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        positions[entries[a].key] = a
        positions[entries[b].key] = b
    }
}
