import Foundation
import Logging
import Synchronization
import RDLMTestSupport
import Testing
@testable import RDLMCore
@testable import RDLMServer

/// Every message logged through it, for tests that check what (and how much) was said.
final class RecordedLog: Sendable {
    private let lines = Mutex<[String]>([])

    var messages: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "recorded") { _ in Handler(log: self) }
    }

    fileprivate func record(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let log: RecordedLog
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let extra = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            log.record(([event.message.description] + extra).joined(separator: " "))
        }
    }
}

/// A holder whose title makes each grant record about 1 KB, so few appends outgrow a snapshot.
private func bulkyLock(_ number: UInt64) -> JournalRecord.StoredLock {
    let now = Int64(Date().timeIntervalSince1970 * 1e9)
    return JournalRecord.StoredLock(
        id: LockID(high: 9, low: number), resource: "r\(number)", title: String(repeating: "t", count: 1_000),
        lifetimeMicroseconds: 60_000_000, waitMicroseconds: 0, mode: .exclusive, token: 1 + number,
        sinceWallNanoseconds: now, expiresWallNanoseconds: now + 3_600_000_000_000)
}

/// Appends one grant and waits until the journal has it on disk.
private func appendGrant(_ number: UInt64, to journal: Journal) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let queued = journal.append([.granted(bulkyLock(number))]) { error in
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
        if !queued { continuation.resume() }
    }
}

@Suite("Journal compaction when files cannot be created")
struct JournalCompactionFailureTests {
    @Test("compaction that cannot create its file backs off, logs rarely, encodes nothing, and appends stay durable")
    func failingCompaction() async throws {
        try await withDataDirectory { path in
            let directory = try DataDirectory.open(path)
            let size = try directory.writeSnapshot(generation: 1, holders: [], lastFencingToken: 0)
            let log = RecordedLog()
            let journal = try Journal(directory: directory, generation: 1, snapshotSize: size, mode: .batch, logger: log.logger)
            let granted = Mutex<[JournalRecord.StoredLock]>([])
            let snapshotsTaken = Mutex(0)
            journal.setSnapshotSource {
                snapshotsTaken.withLock { $0 += 1 }
                return (granted.withLock { $0 }, granted.withLock { $0.last?.token ?? 0 })
            }
            // A directory where the next snapshot's temporary file goes: creating that file
            // fails (EISDIR) even for root, as creating any file does under EMFILE.
            let blocker = directory.snapshotPath(2) + ".tmp"
            try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)

            // Past the compaction threshold, then a few hundred flushes that each could retry.
            let appends: UInt64 = 400
            // As in the lock service, a change is in the table (the snapshot's source) before
            // it is appended.
            for number in 0..<appends {
                granted.withLock { $0.append(bulkyLock(number)) }
                try await appendGrant(number, to: journal)
            }
            let failures = log.messages.filter { $0.contains("compaction failed") }
            #expect(failures.count >= 1, "the failure is logged")
            #expect(failures.count <= 2, "rate-limited: \(failures.count) lines for \(appends) flushes")
            #expect(snapshotsTaken.withLock { $0 } == 0, "no snapshot is taken while its file cannot be created")
            #expect(!FileManager.default.fileExists(atPath: directory.snapshotPath(2)))

            // Once files can be created again, a later flush compacts (after its backoff).
            try FileManager.default.removeItem(atPath: blocker)
            var number = appends
            try await eventually("compaction succeeds", timeout: .seconds(60)) {
                granted.withLock { $0.append(bulkyLock(number)) }
                try await appendGrant(number, to: journal)
                number += 1
                return FileManager.default.fileExists(atPath: directory.snapshotPath(2))
            }
            #expect(log.messages.contains { $0.contains("compacted after") }, "recovery is logged: \(log.messages.suffix(3))")
            journal.close()

            let reopened = try DataDirectory.open(path)
            defer { reopened.unlock() }
            let (recovered, _) = try reopened.recover(
                nowWallNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9), truncateCorruption: false, logger: log.logger)
            #expect(recovered.holders.count == Int(number), "every acknowledged grant survives")
        }
    }
}
