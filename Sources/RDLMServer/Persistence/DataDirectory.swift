import Logging
import RDLMCore

/// The files of `--data-dir`: `snapshot-G` (every holder when generation G began),
/// `journal-G` (every change since), and `lock` (held with `flock` while a daemon runs).
///
/// On start the newest snapshot is loaded, journals of that generation and later are
/// replayed, and the result is written as a fresh snapshot of a new generation, after
/// which older files are removed. Replay is idempotent (grants overwrite, releases of
/// unknown locks do nothing), so a record that is both in a snapshot and in the journal
/// after it does no harm.
struct DataDirectory {
    let path: String
    private let lockDescriptor: Int32

    /// What start-up recovered.
    struct Recovered {
        var holders: [JournalRecord.StoredLock]
        var lastFencingToken: FencingToken
        var expiredWhileDown: Int
    }

    /// Opens (creating) the directory and takes its lock.
    /// - Throws: when another daemon holds the lock, or the directory is unusable.
    static func open(_ path: String) throws(StorageError) -> DataDirectory {
        do {
            try DataFile.createDirectories(path)
        } catch {
            throw StorageError("cannot create data directory \(path): \(error.systemReason ?? error.description)")
        }
        let lockPath = path + "/lock"
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .posix("cannot open", lockPath) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StorageError("data directory \(path) is in use by another rdlmd (\(lockPath) is locked)")
        }
        return DataDirectory(path: path, lockDescriptor: fd)
    }

    func snapshotPath(_ generation: Int) -> String { "\(path)/snapshot-\(generation)" }
    func journalPath(_ generation: Int) -> String { "\(path)/journal-\(generation)" }

    /// Generations present, by kind.
    private func generations() -> (snapshots: [Int], journals: [Int]) {
        let names = (try? DataFile.names(in: path)) ?? []
        func numbers(_ prefix: String) -> [Int] {
            names.compactMap { name in
                guard name.hasPrefix(prefix) else { return nil }
                return Int(name.dropFirst(prefix.count))
            }.sorted()
        }
        return (numbers("snapshot-"), numbers("journal-"))
    }

    /// Loads the newest snapshot and replays the journals after it.
    /// - Parameter truncateCorruption: cut a journal at a corrupt frame instead of refusing
    ///   to start (what follows that frame is lost, and said so in the log).
    func recover(nowWallNanoseconds: Int64, truncateCorruption: Bool, logger: Logger) throws(StorageError) -> (Recovered, nextGeneration: Int) {
        let (snapshots, journals) = generations()
        var holders: [LockID: JournalRecord.StoredLock] = [:]
        var order: [LockID] = []
        var lastToken: FencingToken = 0
        let base = snapshots.last ?? 0
        if let newest = snapshots.last {
            let file = snapshotPath(newest)
            let result = JournalFraming.read(try DataFile.readAll(file))
            guard result.damage == nil, case .snapshotBegin(let token)? = result.records.first,
                  case .snapshotEnd(let count)? = result.records.last, count == UInt64(result.records.count - 2) else {
                throw StorageError("snapshot \(file) is damaged (\(result.damage.map { "\($0)" } ?? "incomplete")); remove it to start from the journals alone, which may lose locks")
            }
            lastToken = token
            for case .granted(let lock) in result.records {
                holders[lock.id] = lock
                order.append(lock.id)
            }
        }
        let replayed = journals.filter { $0 >= base }
        for (index, generation) in replayed.enumerated() {
            let file = journalPath(generation)
            let bytes = try DataFile.readAll(file)
            let result = JournalFraming.read(bytes)
            switch result.damage {
            case nil:
                break
            case .tornTail(let offset) where index == replayed.count - 1:
                logger.warning("journal \(file) ends with a torn record at byte \(offset) (a write cut short by a crash); cutting it off")
                try DataFile.truncate(file, to: offset)
            case .tornTail(let offset), .corrupt(let offset, _):
                let reason: String
                if case .corrupt(_, let why) = result.damage { reason = why } else { reason = "torn record before the last journal" }
                guard truncateCorruption else {
                    throw StorageError("journal \(file) is corrupt at byte \(offset) of \(bytes.count) (\(reason)); start with --recover-truncate to keep what precedes it and drop the rest")
                }
                logger.error("journal \(file) is corrupt at byte \(offset) (\(reason)); --recover-truncate: dropping its last \(bytes.count - offset) bytes")
                try DataFile.truncate(file, to: offset)
            }
            for record in result.records {
                switch record {
                case .granted(let lock):
                    if holders.updateValue(lock, forKey: lock.id) == nil { order.append(lock.id) }
                    lastToken = max(lastToken, lock.token)
                case .released(let id):
                    holders[id] = nil
                case .refreshed(let id, let lifetime, let expires):
                    holders[id]?.lifetimeMicroseconds = lifetime
                    holders[id]?.expiresWallNanoseconds = expires
                case .snapshotBegin, .snapshotEnd:
                    break
                }
            }
            if case .corrupt = result.damage, truncateCorruption { break }
        }
        let live = order.compactMap { holders[$0] }.filter { $0.expiresWallNanoseconds > nowWallNanoseconds }
        let next = max(snapshots.last ?? 0, journals.last ?? 0) + 1
        return (Recovered(holders: live, lastFencingToken: lastToken, expiredWhileDown: holders.count - live.count), next)
    }

    /// Writes `snapshot-G` atomically, then removes every older snapshot and journal.
    /// - Returns: the snapshot's size in bytes.
    @discardableResult
    func writeSnapshot(generation: Int, holders: [JournalRecord.StoredLock], lastFencingToken: FencingToken) throws(StorageError) -> Int {
        let file = try SnapshotFile.create(in: self, generation: generation)
        let size = try file.install(holders: holders, lastFencingToken: lastFencingToken)
        try file.syncDirectory()
        removeGenerations(before: generation)
        return size
    }

    /// Removes the snapshots and journals older than `generation`, once its snapshot is
    /// durable. Recovery ignores them anyway, so one left behind by a crash does no harm.
    func removeGenerations(before generation: Int) {
        let (snapshots, journals) = generations()
        for old in snapshots where old < generation { DataFile.remove(snapshotPath(old)) }
        for old in journals where old < generation { DataFile.remove(journalPath(old)) }
    }

    /// Lets another daemon use the directory.
    func unlock() {
        flock(lockDescriptor, LOCK_UN)
        close(lockDescriptor)
    }
}
