import Foundation
import RDLMTestSupport
import Testing
@testable import RDLMCore
@testable import RDLMServer

/// A fresh directory for one test, removed afterwards.
func withDataDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let path = NSTemporaryDirectory() + "rdlm-data-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

extension ServerConfiguration {
    static func persistent(_ directory: String, fsync: FsyncMode = .batch, truncateCorruption: Bool = false) -> ServerConfiguration {
        var configuration = ServerConfiguration.test()
        configuration.persistence = Persistence(directory: directory, fsync: fsync, truncateCorruption: truncateCorruption)
        return configuration
    }
}

private func fencingToken(_ response: TestResponse) throws -> UInt64 {
    try #require(response.header("RDLM-Fencing-Token").flatMap(UInt64.init))
}

extension ServerTests {
    /// The POSIX helpers that stand in for FileManager.
    @Suite("Data files")
    struct DataFiles {
        @Test("createDirectories makes missing parents, accepts an existing directory, and names what is in the way")
        func createDirectories() async throws {
            try await withDataDirectory { root in
                let nested = root + "/a/b//c/"
                try DataFile.createDirectories(nested)
                #expect(DataFile.isDirectory(nested))
                try DataFile.createDirectories(nested)
                try DataFile.createDirectories(root + "/a/b")
                _ = FileManager.default.createFile(atPath: root + "/file", contents: Data())
                let file = try #require(throws: StorageError.self) { try DataFile.createDirectories(root + "/file") }
                #expect(file.description == "cannot create \(root)/file: File exists")
                #expect(file.systemReason == "File exists")
                // A file where a parent should be: the error names the file.
                let below = try #require(throws: StorageError.self) { try DataFile.createDirectories(root + "/file/d") }
                #expect(below.description == "cannot create \(root)/file: File exists")
            }
        }

        @Test("a data directory that cannot be created says so with the system's reason")
        func dataDirectoryError() async throws {
            try await withDataDirectory { root in
                try DataFile.createDirectories(root)
                _ = FileManager.default.createFile(atPath: root + "/file", contents: Data())
                let error = try #require(throws: StorageError.self) { try DataDirectory.open(root + "/file/data") }
                #expect(error.description == "cannot create data directory \(root)/file/data: File exists")
            }
        }

        @Test("names lists a directory's entries without . and ..")
        func names() async throws {
            try await withDataDirectory { root in
                try DataFile.createDirectories(root + "/sub")
                for name in ["journal-1", "snapshot-2", "lock"] {
                    _ = FileManager.default.createFile(atPath: root + "/" + name, contents: Data())
                }
                #expect(try DataFile.names(in: root).sorted() == ["journal-1", "lock", "snapshot-2", "sub"])
                #expect(try DataFile.names(in: root + "/sub") == [])
                #expect(throws: StorageError.self) { try DataFile.names(in: root + "/missing") }
            }
        }
    }

    /// `--data-dir`: locks and fencing tokens survive a restart.
    @Suite("Durability")
    struct Durability {
        @Test("a held lock comes back after a restart with its URL, and can be shown, refreshed and released", arguments: FsyncMode.allCases)
        func restartKeepsLocks(fsync: FsyncMode) async throws {
            try await withDataDirectory { directory in
                let (path, token) = try await withServer(.persistent(directory, fsync: fsync)) { server in
                    let response = try await server.acquire("keep", title: "survivor", lifetime: 60)
                    #expect(response.status == 201)
                    let released = try await server.acquireLock("gone")
                    #expect(try await server.request(.DELETE, released).status == 204)
                    return (try lockPath(response), try fencingToken(response))
                }
                try await withServer(.persistent(directory, fsync: fsync)) { server in
                    let lock = try await server.request(.GET, path)
                    #expect(lock.status == 200)
                    let json = try lock.json()
                    #expect(json["title"] as? String == "survivor")
                    #expect(json["fencing_token"] as? Int == Int(token))
                    #expect(server.service.lockCount == 1, "the released lock stays released")
                    #expect(try await server.request(.PATCH, path).status == 200)
                    #expect(try await server.acquire("keep", wait: 0).status == 408)
                    let next = try fencingToken(try await server.acquire("other"))
                    #expect(next > token)
                    #expect(try await server.request(.DELETE, path).status == 204)
                }
            }
        }

        @Test("a lock whose lifetime ends while the daemon is down is gone after the restart")
        func expiryWhileDown() async throws {
            try await withDataDirectory { directory in
                let path = try await withServer(.persistent(directory)) { (server: TestServer) async throws in
                    try await server.acquireLock("brief", lifetime: 0.5)
                }
                // The restarted daemon's time starts a second later, past the lock's expiry.
                try await withServer(.persistent(directory), clock: ManualClock(start: .now + .seconds(1))) { (server: TestServer) async throws in
                    #expect(try await server.request(.GET, path).status == 404)
                    #expect(server.service.lockCount == 0)
                    #expect(try await server.acquire("brief", wait: 0).status == 201)
                }
            }
        }

        @Test("a restored lock still expires on its own deadline")
        func restoredLockExpires() async throws {
            try await withDataDirectory { directory in
                let path = try await withServer(.persistent(directory)) { (server: TestServer) async throws in
                    try await server.acquireLock("soon", lifetime: 30)
                }
                let clock = ManualClock()
                try await withServer(.persistent(directory), clock: clock) { (server: TestServer) async throws in
                    #expect(server.service.lockCount == 1)
                    clock.advance(by: .seconds(31))
                    try await eventually("the restored lock expires") { server.service.lockCount == 0 }
                    #expect(try await server.request(.GET, path).status == 404)
                }
            }
        }

        @Test("a data directory in use by another daemon is refused")
        func directoryLocked() async throws {
            _ = try await withDataDirectory { directory in
                try await withServer(.persistent(directory)) { _ in
                    await #expect(throws: StorageError.self) {
                        try await withServer(.persistent(directory)) { _ in }
                    }
                }
            }
        }

        @Test("the journal is compacted: after many grants the directory stays near one snapshot's size")
        func compaction() async throws {
            try await withDataDirectory { directory in
                try await withServer(.persistent(directory, fsync: .never)) { server in
                    let connection = try await server.connect()
                    let title = String(repeating: "t", count: 200)
                    var held: [String] = []
                    for index in 0..<1_500 {
                        // Lifetimes far beyond the loop's length, however loaded the machine.
                        let response = try await connection.execute(TestRequest(.POST, "/locks/r\(index % 300)", body: lockBody(title: title, lifetime: 3_600, wait: 0)))
                        if response.status == 201 { held.append(try lockPath(response)) }
                        if held.count > 200 {
                            #expect(try await connection.execute(TestRequest(.DELETE, held.removeFirst())).status == 204)
                        }
                    }
                    await connection.close()
                    let files = try FileManager.default.contentsOfDirectory(atPath: directory)
                    let sizes = files.map { DataFile.size(directory + "/" + $0) ?? 0 }
                    let snapshot = zip(files, sizes).first { $0.0.hasPrefix("snapshot-") }?.1 ?? 0
                    #expect(files.filter { $0.hasPrefix("snapshot-") }.count == 1)
                    #expect(files.filter { $0.hasPrefix("journal-") }.count == 1)
                    #expect(!files.contains("journal-1"), "the first generation was compacted away")
                    #expect(sizes.reduce(0, +) <= 2 * max(snapshot, Journal.minimumCompactionBytes) + 4_096)
                }
            }
        }
    }
}
