import RDLMCore

/// One resource's queue as this daemon last saw it: its locks in create-revision order,
/// which is the order etcd committed their acquires in, whichever daemon took them.
///
/// Whether a lock may hold depends only on the locks ahead of it, and new locks only join
/// at the back (a key written again keeps its create revision; one deleted and made again
/// gets a new one). So a view that lags behind etcd can say "may hold" late, never wrongly:
/// once a lock may hold, it may until it is gone.
struct EtcdQueue: Sendable {
    struct Entry: Sendable, Equatable {
        /// The key's create revision: its place in the queue and its fencing token.
        var revision: Int64
        var id: LockID
        var mode: LockMode
    }

    private(set) var entries: [Entry] = []

    init(_ entries: [Entry] = []) {
        self.entries = entries.sorted { $0.revision < $1.revision }
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Drops a lock seen deleted (a delete event names only the key).
    mutating func remove(_ id: LockID, _ mode: LockMode) {
        entries.removeAll { $0.id == id && $0.mode == mode }
    }

    /// The local table's rule: FIFO, so neither mode starves. An exclusive lock holds alone
    /// at the front; a shared one holds when no exclusive lock is ahead of it.
    func mayHold(revision: Int64) -> Bool {
        guard let index = entries.firstIndex(where: { $0.revision == revision }) else { return false }
        switch entries[index].mode {
        case .exclusive: return index == 0
        case .shared: return !entries[..<index].contains { $0.mode == .exclusive }
        }
    }

    /// Waiters on the resource, for `maxWaitersPerResource`: everything behind the locks that
    /// may hold.
    var waiterCount: Int {
        var count = 0
        var exclusiveAhead = false
        for (index, entry) in entries.enumerated() {
            let holds = entry.mode == .exclusive ? index == 0 : !exclusiveAhead
            if !holds { count += 1 }
            if entry.mode == .exclusive { exclusiveAhead = true }
        }
        return count
    }
}
