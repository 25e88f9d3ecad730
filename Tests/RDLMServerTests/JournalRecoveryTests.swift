import Foundation
import Logging
import Testing
@testable import RDLMCore
@testable import RDLMServer

private func stored(_ number: UInt64, expiresIn seconds: Int64 = 3_600) -> JournalRecord.StoredLock {
    let now = Int64(Date().timeIntervalSince1970 * 1e9)
    return JournalRecord.StoredLock(
        id: LockID(high: 7, low: number), resource: "r\(number)", title: "lock \(number)",
        lifetimeMicroseconds: 60_000_000, waitMicroseconds: 0, mode: .exclusive, token: 100 + number,
        sinceWallNanoseconds: now, expiresWallNanoseconds: now + seconds * 1_000_000_000)
}

private func frames(_ records: [JournalRecord]) -> [UInt8] {
    var bytes: [UInt8] = []
    for record in records { JournalFraming.append(record, to: &bytes) }
    return bytes
}

private let quiet: Logger = {
    var logger = Logger(label: "journal-test")
    logger.logLevel = .critical
    return logger
}()

/// Writes `journal-1` with `bytes` into a fresh directory and recovers it.
private func recover(_ bytes: [UInt8], truncateCorruption: Bool = false) throws -> (DataDirectory.Recovered, journal: [UInt8]) {
    let path = NSTemporaryDirectory() + "rdlm-journal-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let directory = try DataDirectory.open(path)
    defer { directory.unlock() }
    _ = FileManager.default.createFile(atPath: directory.journalPath(1), contents: Data(bytes))
    let (recovered, _) = try directory.recover(
        nowWallNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9), truncateCorruption: truncateCorruption, logger: quiet)
    return (recovered, try DataFile.readAll(directory.journalPath(1)))
}

extension ServerTests {
    /// Reading the journal back after crashes and damage.
    @Suite("Journal recovery")
    struct JournalRecovery {
        @Test("records survive encoding and framing unchanged")
        func roundTrip() {
            let records: [JournalRecord] = [
                .granted(stored(1)), .refreshed(LockID(high: 7, low: 1), lifetimeMicroseconds: 5, expiresWallNanoseconds: 9),
                .released(LockID(high: 7, low: 1)), .snapshotBegin(lastFencingToken: 42), .snapshotEnd(count: 0),
            ]
            let result = JournalFraming.read(frames(records))
            #expect(result.records == records)
            #expect(result.damage == nil)
        }

        @Test("a journal cut at any byte of its last record recovers everything before it")
        func tornTailAtEveryOffset() throws {
            let complete = frames([.granted(stored(1)), .granted(stored(2))])
            let lastStart = frames([.granted(stored(1))]).count
            for cut in lastStart..<complete.count {
                let (recovered, journal) = try recover(Array(complete[..<cut]))
                #expect(recovered.holders.map(\.id) == [LockID(high: 7, low: 1)], "cut at \(cut)")
                #expect(journal.count == lastStart, "the torn record is cut off (cut at \(cut))")
            }
        }

        @Test("a flipped byte in the middle stops start-up with the file and offset")
        func corruptionReported() throws {
            var bytes = frames([.granted(stored(1)), .granted(stored(2)), .granted(stored(3))])
            let secondStart = frames([.granted(stored(1))]).count
            bytes[secondStart + JournalFraming.headerSize + 5] ^= 0x40
            do {
                _ = try recover(bytes)
                Issue.record("a corrupt journal was accepted")
            } catch {
                let error = String(describing: error)
                #expect(error.contains("journal-1"))
                #expect(error.contains("corrupt at byte \(secondStart)"))
                #expect(error.contains("--recover-truncate"))
            }
        }

        @Test("--recover-truncate keeps what precedes the damage and drops the rest")
        func truncateCorruption() throws {
            var bytes = frames([.granted(stored(1)), .granted(stored(2)), .granted(stored(3))])
            let secondStart = frames([.granted(stored(1))]).count
            bytes[secondStart + JournalFraming.headerSize + 5] ^= 0x40
            let (recovered, journal) = try recover(bytes, truncateCorruption: true)
            #expect(recovered.holders.map(\.id) == [LockID(high: 7, low: 1)])
            #expect(journal.count == secondStart)
        }

        @Test("replay applies releases and refreshes, drops expired locks and keeps the highest token")
        func replayRules() throws {
            let bytes = frames([
                .granted(stored(1)), .granted(stored(2)), .granted(stored(3, expiresIn: -1)),
                .released(LockID(high: 7, low: 1)),
                .refreshed(LockID(high: 7, low: 2), lifetimeMicroseconds: 1_000_000, expiresWallNanoseconds: stored(2, expiresIn: 7_200).expiresWallNanoseconds),
                .released(LockID(high: 9, low: 9)),
            ])
            let (recovered, _) = try recover(bytes)
            #expect(recovered.holders.map(\.id) == [LockID(high: 7, low: 2)])
            #expect(recovered.holders.first?.lifetimeMicroseconds == 1_000_000)
            #expect(recovered.expiredWhileDown == 1)
            #expect(recovered.lastFencingToken == 103)
        }
    }
}
