import DequeModule

extension LockTable {
    /// One resource: its holders and its FIFO queue of waiters. It keeps its own invariants
    /// (who may join, how many wait); the table keeps the records these ids name.
    struct Resource: Sendable {
        private struct Holder: Sendable {
            var id: LockID
            var mode: LockMode
        }

        /// Holders in grant order: one exclusive, or any number of shared.
        private var holders: [Holder] = []
        /// Waiters in arrival order. Waiters that left early stay here as stale ids until
        /// they reach the front or the queue is compacted, so leaving is O(1).
        private(set) var queue: Deque<LockID> = []
        /// The live waiters in `queue`.
        private(set) var waiting = 0

        var holderIDs: [LockID] { holders.map(\.id) }
        var isEmpty: Bool { holders.isEmpty && waiting == 0 }

        /// An exclusive holder is always alone, so the first holder's mode tells.
        private var exclusiveHeld: Bool { holders.first?.mode == .exclusive }

        func admits(_ mode: LockMode) -> Bool {
            holders.isEmpty || (mode == .shared && !exclusiveHeld)
        }

        /// Whether a newcomer is granted at once: nobody queued ahead (FIFO, so no mode
        /// starves) and the holders admit it.
        func grantsAtOnce(_ mode: LockMode) -> Bool {
            waiting == 0 && admits(mode)
        }

        mutating func addHolder(_ id: LockID, mode: LockMode) {
            holders.append(Holder(id: id, mode: mode))
        }

        mutating func removeHolder(_ id: LockID) {
            holders.removeAll { $0.id == id }
        }

        mutating func enqueue(_ id: LockID) {
            queue.append(id)
            waiting += 1
        }

        /// Takes the first live waiter off the queue if the holders admit it.
        /// - Parameter records: the table's records; an id without a waiting one is stale.
        mutating func takeAdmittedWaiter(records: [LockID: Record]) -> LockID? {
            skipStaleHead(records: records)
            guard let head = queue.first, let record = records[head], admits(record.request.mode) else { return nil }
            queue.removeFirst()
            waiting -= 1
            return head
        }

        /// Accounts for a waiter whose record is already gone, and sheds stale ids once
        /// they outnumber the live ones.
        mutating func dropWaiter(records: [LockID: Record]) {
            waiting -= 1
            skipStaleHead(records: records)
            if queue.count > 2 * waiting + 32 {
                queue = Deque(queue.filter { records[$0]?.isWaiting == true })
            }
        }

        private mutating func skipStaleHead(records: [LockID: Record]) {
            while let head = queue.first, records[head]?.isWaiting != true {
                queue.removeFirst()
            }
        }
    }
}
