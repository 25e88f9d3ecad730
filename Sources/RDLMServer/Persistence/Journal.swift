#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Logging
import RDLMCore
import Synchronization

/// When a change is on disk before its answer goes out.
public enum FsyncMode: String, Sendable, CaseIterable {
    /// Write and fsync as soon as there is something to write (requests that arrive during
    /// one fsync share the next).
    case always
    /// Like `always`, but wait up to 2 ms after the first change for more to share the fsync.
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

    private struct Pending {
        var bytes: [UInt8] = []
        var completions: [Completion] = []
        var flushScheduled = false
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

        init(generation: Int, descriptor: Int32, snapshotSize: Int) {
            self.generation = generation
            self.descriptor = descriptor
            self.snapshotSize = snapshotSize
        }
    }

    static let minimumCompactionBytes = 64 * 1024

    let directory: DataDirectory
    let mode: FsyncMode
    private let pending = Mutex(Pending())
    private let queue = DispatchQueue(label: "rdlmd.journal")
    private let writer: Writer
    private let snapshotSource = Mutex<SnapshotSource?>(nil)
    private let logger: Logger

    /// Opens `journal-G` of a generation whose snapshot was just written.
    init(directory: DataDirectory, generation: Int, snapshotSize: Int, mode: FsyncMode, logger: Logger) throws(StorageError) {
        self.directory = directory
        self.mode = mode
        self.logger = logger
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
            if records.isEmpty && !pending.flushScheduled { return nil }
            for record in records { JournalFraming.append(record, to: &pending.bytes) }
            pending.completions.append(completion)
            if pending.flushScheduled { return false }
            pending.flushScheduled = true
            return true
        }
        switch scheduleFlush {
        case nil:
            return false
        case true?:
            if mode == .batch {
                queue.asyncAfter(deadline: .now() + .milliseconds(2)) { self.flush() }
            } else {
                queue.async { self.flush() }
            }
        case false?:
            break
        }
        return true
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
        let (bytes, completions) = pending.withLock { pending in
            defer {
                pending.bytes = []
                pending.completions = []
                pending.flushScheduled = false
            }
            return (pending.bytes, pending.completions)
        }
        if writer.failure == nil && writer.isClosed && !bytes.isEmpty {
            writer.failure = StorageError("journal is closed")
        }
        if writer.failure == nil && !bytes.isEmpty {
            let path = directory.journalPath(writer.generation)
            do {
                try DataFile.writeAll(writer.descriptor, bytes, path: path)
                if mode != .never { try DataFile.sync(writer.descriptor, path: path) }
                writer.size += bytes.count
            } catch {
                logger.critical("journal write failed; refusing changes from now on", metadata: ["error": "\(error)"])
                writer.failure = error
            }
        }
        let failure = writer.failure
        for completion in completions { completion(failure) }
        if failure == nil && !writer.isClosed && writer.size > max(Self.minimumCompactionBytes, writer.snapshotSize) {
            compact()
        }
    }

    /// Starts a new generation from a snapshot of the current holders. Changes appended
    /// meanwhile are written to the new journal; replay is idempotent, so those already in
    /// the snapshot do no harm.
    private func compact() {
        guard let source = snapshotSource.withLock({ $0 }) else { return }
        let (holders, token) = source()
        let next = writer.generation + 1
        do {
            let size = try directory.writeSnapshot(generation: next, holders: holders, lastFencingToken: token)
            let descriptor = try DataFile.openForAppend(directory.journalPath(next))
            closeDescriptor(writer.descriptor)
            writer.descriptor = descriptor
            writer.generation = next
            writer.size = 0
            writer.snapshotSize = size
            logger.debug("journal compacted", metadata: ["generation": "\(next)", "holders": "\(holders.count)", "snapshot bytes": "\(size)"])
        } catch {
            // The old journal is still complete and still being appended to: nothing lost.
            logger.error("journal compaction failed; will retry", metadata: ["error": "\(error)"])
        }
    }
}

private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
