import Dispatch
import Logging
import NIOCore
import RDLMCore
import Synchronization

/// When a change is on disk before its answer goes out.
public enum FsyncMode: String, Sendable, CaseIterable {
    /// Every request's changes get an fsync of their own before its answer.
    case always
    /// Group commit: the changes of all requests that arrived while the previous fsync ran
    /// (a few milliseconds) are written together and share one fsync; each request is
    /// still answered only after the fsync that covers it.
    case batch
    /// Write but never fsync: survives a crash of rdlmd, not of the machine.
    case never
}

/// The append-only journal with group commit. Changes are encoded under the lock
/// service's mutex, so the journal's order is the table's order; a serial queue writes
/// them, syncs as `FsyncMode` says, and only then runs the completions that answer the
/// clients. When the journal outgrows the last snapshot it is compacted: a new snapshot
/// of every holder starts a new generation and the old files go.
final class Journal: Sendable {
    typealias Completion = @Sendable ((any Error)?) -> Void
    /// Every holder and the fencing counter, taken under the lock service's mutex.
    typealias SnapshotSource = @Sendable () -> (holders: [JournalRecord.StoredLock], lastFencingToken: FencingToken)

    /// The changes of one request (possibly none) and the answer that waits for them.
    private struct Commit {
        /// Where this commit's records end in `Pending.bytes`.
        var end: Int
        var completion: Completion
    }

    private struct Pending {
        var bytes: [UInt8] = []
        var commits: [Commit] = []
        var flushScheduled = false
        /// A flush is writing or syncing right now; a read must wait for it too.
        var isFlushing = false
    }

    /// The open journal file. Touched only on `queue`, which is what makes it safe to
    /// share; `@unchecked` because the compiler cannot see that confinement.
    private final class Writer: @unchecked Sendable {
        var generation: Int
        var descriptor: Int32
        var size = 0
        var snapshotSize: Int
        var failure: StorageError?
        var isClosed = false
        var compactionBackoff = CompactionBackoff()
        var compactionLog = LogThrottle(interval: Journal.compactionLogInterval)

        init(generation: Int, descriptor: Int32, snapshotSize: Int) {
            self.generation = generation
            self.descriptor = descriptor
            self.snapshotSize = snapshotSize
        }
    }

    static let minimumCompactionBytes = 64 * 1024
    /// At most one line per this long about failing compactions.
    static let compactionLogInterval = Duration.seconds(10)

    let directory: DataDirectory
    let mode: FsyncMode
    /// Where fsync latency is recorded, if anywhere.
    private let metrics: ServerMetrics?
    private let pending = Mutex(Pending())
    private let queue = DispatchQueue(label: "rdlmd.journal")
    private let writer: Writer
    private let snapshotSource = Mutex<SnapshotSource?>(nil)
    private let logger: Logger
    /// The write failure that made the journal refuse changes, readable off its queue.
    private let failed = Mutex<String?>(nil)
    private let probe: SharedProbe

    /// Opens `journal-G` of a generation whose snapshot was just written.
    init(directory: DataDirectory, generation: Int, snapshotSize: Int, mode: FsyncMode, metrics: ServerMetrics? = nil, logger: Logger) throws(StorageError) {
        self.metrics = metrics
        self.directory = directory
        self.mode = mode
        self.logger = logger
        probe = DirectoryProbe.make(directory: directory.path)
        let path = directory.journalPath(generation)
        writer = Writer(generation: generation, descriptor: try DataFile.openForAppend(path), snapshotSize: snapshotSize)
        writer.size = DataFile.size(path) ?? 0
    }

    /// Where compaction takes its snapshots from; set once the lock service exists.
    func setSnapshotSource(_ source: @escaping SnapshotSource) {
        snapshotSource.withLock { $0 = source }
    }

    /// Queues `records` to be written, with `completion` to run once they, and everything
    /// queued before, are written (and synced, as the mode says), or with the error that
    /// prevented it. Call it in the order the changes happened, under the caller's lock.
    /// - Returns: `false` when nothing is pending at all, so `completion` was not queued:
    ///   the caller runs it at once, after letting go of its lock.
    func append(_ records: [JournalRecord], completion: @escaping Completion) -> Bool {
        let scheduleFlush = pending.withLock { pending -> Bool? in
            // Nothing unwritten before it, and nothing to write: answer at once.
            if records.isEmpty && !pending.flushScheduled && !pending.isFlushing { return nil }
            for record in records { JournalFraming.append(record, to: &pending.bytes) }
            pending.commits.append(Commit(end: pending.bytes.count, completion: completion))
            if pending.flushScheduled { return false }
            pending.flushScheduled = true
            return true
        }
        guard let scheduleFlush else { return false }
        if scheduleFlush { queue.async { self.flush() } }
        return true
    }

    /// `journal`, for `GET /ready`: fine while no write has failed and the directory takes
    /// new files (see `DirectoryProbe`).
    func readiness(eventLoop: any EventLoop) -> EventLoopFuture<ReadinessCheck> {
        if let failure = failed.withLock({ $0 }) {
            return eventLoop.makeSucceededFuture(ReadinessCheck("journal", ok: false, "a journal write failed, changes are refused until restart: \(failure)"))
        }
        let directory = directory.path
        return probe.check(eventLoop: eventLoop).map { failure in
            if let failure { return ReadinessCheck("journal", ok: false, "data directory not writable: \(failure)") }
            return ReadinessCheck("journal", ok: true, "\(directory) writable")
        }
    }

    /// Writes what is pending now and stops; later appends fail. Called at shutdown.
    func close() {
        queue.sync {
            flush()
            writer.isClosed = true
            closeDescriptor(writer.descriptor)
        }
        directory.unlock()
    }

    private func flush() {
        let (bytes, commits) = pending.withLock { pending in
            defer {
                pending.bytes = []
                pending.commits = []
                pending.flushScheduled = false
                pending.isFlushing = true
            }
            return (pending.bytes, pending.commits)
        }
        defer { pending.withLock { $0.isFlushing = false } }
        if mode == .always {
            // One fsync per request's changes, in order.
            var start = 0
            for commit in commits {
                let failure = write(bytes[start..<commit.end])
                start = commit.end
                commit.completion(failure)
            }
        } else {
            let failure = write(bytes[...])
            for commit in commits { commit.completion(failure) }
        }
        if writer.failure == nil && !writer.isClosed && writer.size > max(Self.minimumCompactionBytes, writer.snapshotSize) {
            compact()
        }
    }

    /// Appends to the journal file and syncs as the mode says; after a failure, refuses
    /// everything (the answers become 503s) rather than guess what reached the disk.
    private func write(_ bytes: ArraySlice<UInt8>) -> StorageError? {
        if writer.failure == nil && writer.isClosed && !bytes.isEmpty {
            writer.failure = StorageError("journal is closed")
        }
        guard writer.failure == nil, !bytes.isEmpty else { return writer.failure }
        let path = directory.journalPath(writer.generation)
        do {
            try DataFile.writeAll(writer.descriptor, bytes, path: path)
            if mode != .never {
                let started = ContinuousClock.now
                try DataFile.sync(writer.descriptor, path: path)
                metrics?.fsyncTime?.recordInterval(ContinuousClock.now - started)
            }
            writer.size += bytes.count
        } catch {
            logger.critical("journal write failed; refusing changes from now on", metadata: ["error": "\(error)"])
            writer.failure = error
            failed.withLock { $0 = error.description }
        }
        return writer.failure
    }

    /// Starts a new generation from a snapshot of the current holders. Changes appended
    /// meanwhile are written to the new journal; replay is idempotent, so those already in
    /// the snapshot do no harm. After a failure it waits (`CompactionBackoff`) before trying
    /// again; the old journal is still complete and still appended to, so nothing is lost.
    private func compact() {
        guard writer.compactionBackoff.allowsAttempt(), let source = snapshotSource.withLock({ $0 }) else { return }
        let next = writer.generation + 1
        let snapshot: SnapshotFile
        let descriptor: Int32
        let size: Int
        let holderCount: Int
        do {
            (snapshot, descriptor) = try createFiles(of: next)
            let (holders, token) = source()
            holderCount = holders.count
            do {
                size = try snapshot.install(holders: holders, lastFencingToken: token)
            } catch {
                closeDescriptor(descriptor)
                DataFile.remove(directory.journalPath(next))
                throw error
            }
        } catch {
            let delay = writer.compactionBackoff.failed()
            if let suppressed = writer.compactionLog.admit() {
                logger.error("journal compaction failed; will retry in \(delay)", metadata: [
                    "error": "\(error)", "failures": "\(writer.compactionBackoff.failures)",
                    "suppressed since last line": "\(suppressed)",
                ])
            }
            return
        }
        // The snapshot is in place: from here on this is the generation to append to.
        closeDescriptor(writer.descriptor)
        writer.descriptor = descriptor
        writer.generation = next
        writer.size = 0
        writer.snapshotSize = size
        do {
            try snapshot.syncDirectory()
            directory.removeGenerations(before: next)
        } catch {
            // Older files stay: recovery replays every journal from the newest snapshot.
            logger.error("journal compacted but the directory could not be synced; keeping older files", metadata: ["error": "\(error)"])
        }
        if writer.compactionBackoff.failures > 0 {
            logger.notice("journal compacted after \(writer.compactionBackoff.failures) failed attempts")
        }
        writer.compactionBackoff.succeeded()
        writer.compactionLog = LogThrottle(interval: Self.compactionLogInterval)
        logger.debug("journal compacted", metadata: ["generation": "\(next)", "holders": "\(holderCount)", "snapshot bytes": "\(size)"])
    }
}

extension Journal {
    /// The snapshot file and the journal of generation `next`, created before any holder is
    /// encoded (see `SnapshotFile`); on an error neither is left behind.
    private func createFiles(of next: Int) throws(StorageError) -> (SnapshotFile, journal: Int32) {
        let snapshot = try SnapshotFile.create(in: directory, generation: next)
        do {
            return (snapshot, try DataFile.openForAppend(directory.journalPath(next)))
        } catch {
            snapshot.discard()
            throw error
        }
    }
}

private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
