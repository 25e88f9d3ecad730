import Foundation
import Logging
import NIOPosix
import RDLMEtcd
import RDLMCore
import RDLMTestSupport
import RDLMWire
import Testing
@testable import RDLMServer

/// The cluster `scripts/etcd-cluster.sh start DIR` runs; `scripts/test.sh` starts one and
/// names its directory here. Without it these suites are skipped.
enum TestCluster {
    static let directory = ProcessInfo.processInfo.environment["RDLM_TEST_ETCD_DIR"]

    static var endpoints: [String] {
        guard let directory, let text = try? String(contentsOfFile: directory + "/endpoints", encoding: .utf8) else { return [] }
        return text.split(whereSeparator: { $0 == "," || $0.isNewline }).map(String.init)
    }
}

/// Starts `count` daemons sharing one lock space on the test cluster (a prefix of the
/// test's own, so tests never see each other's locks), and always shuts them down.
func withEtcdDaemons<Result>(
    _ count: Int = 3, limits: RequestLimits = RequestLimits(), sessionTTL: Int64 = 2, minimumHolderLeaseTTL: Int64 = 2,
    _ body: ([TestServer]) async throws -> Result
) async throws -> Result {
    var logger = Logger(label: "rdlmd-etcd-test")
    logger.logLevel = .warning
    let prefix = "/rdlm-test-\(LockID.random())/"
    var servers: [LockServer] = []
    func shutdownAll() async {
        for server in servers { await server.shutdown() }
    }
    do {
        for _ in 0..<count {
            var configuration = ServerConfiguration.test(limits: limits)
            configuration.etcd = EtcdSettings(endpoints: TestCluster.endpoints, prefix: prefix, sessionTTL: sessionTTL, requestTimeout: .seconds(5))
            configuration.etcd?.minimumHolderLeaseTTL = minimumHolderLeaseTTL
            let server = try await LockServer.start(configuration: configuration, logger: logger)
            servers.append(server)
            try #require(await server.etcd!.ready(within: .seconds(30)), "daemon on etcd not ready")
        }
        let result = try await body(servers.map(TestServer.init))
        await shutdownAll()
        return result
    } catch {
        await shutdownAll()
        throw error
    }
}

extension TestServer {
    /// An acquire that is expected to wait: sent on its own connection; returns once the
    /// lock space lists it (through this daemon).
    func parkOnEtcd(
        _ resource: String, title: String = "waiter", lifetime: Double = 30, wait: Double = 30, mode: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> ParkedRequest {
        let before = try await locks(on: resource).count
        let connection = try await connect()
        let response = connection.send(
            TestRequest(.POST, "/locks/\(resource)", headers: headers, body: lockBody(title: title, lifetime: lifetime, wait: wait, mode: mode)),
            timeout: .seconds(Int64(wait) + 30))
        try await eventually("\(title) is queued on \(resource)") { try await locks(on: resource).count > before }
        return ParkedRequest(connection: connection, response: response)
    }
}

/// The titles of a resource's holders, as a daemon lists them.
func activeTitles(_ daemon: TestServer, _ resource: String) async throws -> [String] {
    try await daemon.locks(on: resource).filter { $0["active"] as? Bool == true }.compactMap { $0["title"] as? String }
}

@Suite("etcd backend: several daemons, one lock space", .enabled(if: TestCluster.directory != nil, "RDLM_TEST_ETCD_DIR names no etcd cluster"))
struct EtcdBackendTests {
    @Test("a lock acquired through one daemon is shown, refreshed and released through the others")
    func acrossDaemons() async throws {
        try await withEtcdDaemons { daemons in
            let acquired = try await daemons[0].acquire("shared1", lifetime: 30)
            #expect(acquired.status == 201)
            let path = try lockPath(acquired)
            let token = try #require(acquired.header("RDLM-Fencing-Token").flatMap { UInt64($0) })
            let shown = try await daemons[1].request(.GET, path, headers: [("Accept", "application/json")])
            #expect(shown.status == 200)
            #expect(try shown.json()["active"] as? Bool == true)
            #expect(try shown.json()["fencing_token"] as? Int == Int(token))
            let refreshed = try await daemons[2].request(.PATCH, path, body: "{\"lifetime\": 60}")
            #expect(refreshed.status == 200, "\(refreshed)")
            // The refreshed lock still holds the resource, whichever daemon is asked.
            #expect(try await daemons[0].acquire("shared1", wait: 0).status == 408)
            #expect(try await daemons[1].request(.DELETE, path).status == 204)
            #expect(try await daemons[2].request(.GET, path).status == 404)
            #expect(try await daemons[0].request(.DELETE, path).status == 404)
            let next = try await daemons[2].acquire("shared1", wait: 0)
            #expect(next.status == 201)
            let nextToken = try #require(next.header("RDLM-Fencing-Token").flatMap { UInt64($0) })
            #expect(nextToken > token, "tokens increase across daemons")
        }
    }

    @Test("one FIFO queue per resource across daemons, in the order etcd committed the requests")
    func fifoAcrossDaemons() async throws {
        try await withEtcdDaemons { daemons in
            let holder = try await daemons[0].acquireLock("queue")
            let first = try await daemons[1].parkOnEtcd("queue", title: "first")
            let second = try await daemons[2].parkOnEtcd("queue", title: "second")
            let third = try await daemons[0].parkOnEtcd("queue", title: "third")
            #expect(try await activeTitles(daemons[1], "queue") == ["test"], "only the holder holds")
            #expect(try await daemons[2].request(.DELETE, holder).status == 204)
            let firstAnswer = try await first.answer()
            #expect(firstAnswer.status == 201)
            // The others still wait.
            let titles = try await daemons[1].locks(on: "queue").compactMap { $0["title"] as? String }
            #expect(titles == ["first", "second", "third"])
            #expect(try await activeTitles(daemons[2], "queue") == ["first"])
            #expect(try await daemons[0].request(.DELETE, try lockPath(firstAnswer)).status == 204)
            let secondAnswer = try await second.answer()
            #expect(secondAnswer.status == 201)
            #expect(try await daemons[1].request(.DELETE, try lockPath(secondAnswer)).status == 204)
            let thirdAnswer = try await third.answer()
            #expect(thirdAnswer.status == 201)
            let tokens = try [firstAnswer, secondAnswer, thirdAnswer].map { try #require(UInt64($0.header("RDLM-Fencing-Token") ?? "")) }
            #expect(tokens == tokens.sorted() && Set(tokens).count == 3, "tokens increase in grant order: \(tokens)")
            for parked in [first, second, third] { await parked.connection.close() }
        }
    }

    @Test("shared locks hold together across daemons; an exclusive one waits for them, and a shared one behind it waits too")
    func sharedAndExclusive() async throws {
        try await withEtcdDaemons { daemons in
            let one = try await daemons[0].acquireLock("rw", mode: "shared")
            let two = try await daemons[1].acquireLock("rw", mode: "shared")
            let writer = try await daemons[2].parkOnEtcd("rw", title: "writer", mode: "exclusive")
            let reader = try await daemons[0].parkOnEtcd("rw", title: "late reader", mode: "shared")
            #expect(try await activeTitles(daemons[1], "rw") == ["test", "test"], "the writer and the late reader wait")
            #expect(try await daemons[1].acquire("rw", wait: 0, mode: "shared").status == 408, "no shared lock overtakes a waiting exclusive one")
            #expect(try await daemons[0].request(.DELETE, one).status == 204)
            #expect(try await daemons[2].request(.DELETE, two).status == 204)
            let written = try await writer.answer()
            #expect(written.status == 201)
            #expect(try await daemons[1].request(.DELETE, try lockPath(written)).status == 204)
            #expect(try await reader.answer().status == 201)
            for parked in [writer, reader] { await parked.connection.close() }
        }
    }

    @Test("the admin list sees the whole cluster, and a delete through a third daemon ends a waiter on another (409)")
    func admin() async throws {
        try await withEtcdDaemons { daemons in
            _ = try await daemons[0].acquireLock("adminres")
            let waiter = try await daemons[1].parkOnEtcd("adminres")
            let list = try await daemons[2].request(.GET, "/resources", headers: [("Accept", "application/json")])
            #expect(list.status == 200)
            #expect(list.body.contains("adminres"), "\(list)")
            #expect(try await daemons[2].request(.DELETE, "/resources/adminres").status == 204)
            #expect(try await waiter.answer().status == 409)
            #expect(try await daemons[0].locks(on: "adminres").isEmpty)
            #expect(try await daemons[1].acquire("adminres", wait: 0).status == 201)
            await waiter.connection.close()
        }
    }

    @Test("/ready on etcd checks the quorum with a linearizable read and this daemon's session")
    func readiness() async throws {
        try await withEtcdDaemons(1) { daemons in
            var body: [String: Any] = [:]
            // The session and watch come up in the background after start.
            try await eventually("the daemon is ready") {
                let answer = try await daemons[0].request(.GET, "/ready")
                body = try answer.json()
                return answer.status == 200
            }
            #expect(body["ready"] as? Bool == true)
            let checks = try #require(body["checks"] as? [[String: Any]])
            #expect(checks.map { $0["name"] as? String } == ["accepting", "etcd-quorum", "etcd-session"])
            #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
        }
    }

    @Test("a waiter whose client disconnects leaves the queue at once")
    func abandonedWaiter() async throws {
        try await withEtcdDaemons { daemons in
            _ = try await daemons[0].acquireLock("leaver")
            let waiter = try await daemons[1].parkOnEtcd("leaver")
            await waiter.connection.close()
            try await eventually("the waiter leaves the queue") { try await daemons[2].locks(on: "leaver").count == 1 }
        }
    }

    @Test("wait deadlines and lifetimes end on this daemon's timers, not etcd's whole-second leases")
    func deadlines() async throws {
        // Holder leases of a minute: a lock that ended in seconds was ended by a timer.
        try await withEtcdDaemons(minimumHolderLeaseTTL: 60) { daemons in
            _ = try await daemons[0].acquire("timed", lifetime: 0.3)
            let started = ContinuousClock.now
            let waited = try await daemons[1].acquire("timed", wait: 30)
            #expect(waited.status == 201)
            #expect(ContinuousClock.now - started < .seconds(20), "granted when the 0.3 s lifetime ended, not at the lease's end")
            let timeout = ContinuousClock.now
            #expect(try await daemons[2].acquire("timed", wait: 0.3).status == 408)
            let late = ContinuousClock.now - timeout
            #expect(late >= .milliseconds(300) && late < .seconds(20), "408 at the wait's end: \(late)")
        }
    }

    @Test("group commit: of many try-locks sent at once on one resource exactly one is granted, and distinct resources all are")
    func groupCommit() async throws {
        try await withEtcdDaemons { daemons in
            for round in 0..<3 {
                let statuses = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                    for index in 0..<24 {
                        let resource = index % 2 == 0 ? "hot\(round)" : "cold\(round)x\(index)"
                        group.addTask { (resource, try await daemons[index % 3].acquire(resource, wait: 0).status) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let hot = statuses.filter { $0.0.hasPrefix("hot") }.map(\.1)
                #expect(hot.filter { $0 == 201 }.count == 1, "one holder of hot\(round): \(hot)")
                #expect(hot.filter { $0 == 408 }.count == 11)
                #expect(statuses.filter { $0.0.hasPrefix("cold") }.allSatisfy { $0.1 == 201 })
            }
        }
    }

    @Test("an acquire retried through another daemon with its RDLM-Request-Id gets the same lock")
    func retriedElsewhere() async throws {
        try await withEtcdDaemons { daemons in
            let id = [("RDLM-Request-Id", LockID.random().description)]
            let first = try await daemons[0].acquire("retried", headers: id)
            #expect(first.status == 201)
            let again = try await daemons[1].acquire("retried", headers: id)
            #expect(again.status == 201)
            #expect(try lockPath(again) == lockPath(first))
            #expect(again.header("RDLM-Fencing-Token") == first.header("RDLM-Fencing-Token"))
            #expect(try await daemons[2].locks(on: "retried").count == 1)
        }
    }

    @Test("a daemon that stops gives up its session: its waiters get 503 and leave their queues at once")
    func stoppingDaemon() async throws {
        var logger = Logger(label: "rdlmd-etcd-test")
        logger.logLevel = .warning
        try await withEtcdDaemons(2) { daemons in
            var configuration = ServerConfiguration.test()
            configuration.etcd = daemons[0].server.configuration.etcd
            let leaving = TestServer(server: try await LockServer.start(configuration: configuration, logger: logger))
            try #require(await leaving.server.etcd!.ready(within: .seconds(30)))
            let holder = try await daemons[0].acquireLock("leaving")
            let waiter = try await leaving.parkOnEtcd("leaving")
            let behind = try await daemons[1].parkOnEtcd("leaving", title: "behind")
            await leaving.server.shutdown()
            #expect(try await waiter.answer().status == 503)
            try await eventually("the stopped daemon's waiter is gone") { try await daemons[0].locks(on: "leaving").count == 2 }
            #expect(try await daemons[1].request(.DELETE, holder).status == 204)
            #expect(try await behind.answer().status == 201)
            for parked in [waiter, behind] { await parked.connection.close() }
        }
    }
}

/// Group commit on its own, against the cluster: what makes it safe is that a batch never
/// holds two transactions on one resource (etcd evaluates every compare of a nested
/// transaction before any of its writes).
@Suite("etcd backend: group commit", .enabled(if: TestCluster.directory != nil, "RDLM_TEST_ETCD_DIR names no etcd cluster"))
struct EtcdWriteBatcherTests {
    @Test("put-if-empty on one resource, sent while the batcher is busy: exactly one succeeds")
    func oneResourcePerBatch() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = EtcdClient(endpoints: TestCluster.endpoints, eventLoopGroup: group, logger: Logger(label: "batcher-test"))
        let batcher = EtcdWriteBatcher(etcd: client)
        let prefix = "/rdlm-batcher-test/\(LockID.random())/"
        func putIfEmpty(_ resource: String, _ name: String) -> EtcdTxn {
            let range = prefix + resource + "/"
            return EtcdTxn(
                compare: [EtcdCompare(key: range, rangeEnd: EtcdKey.prefixEnd(range), result: .equal, target: .createRevision(0))],
                success: [.put(key: range + name, value: [], lease: 0)])
        }
        // Two in flight, so that the rest wait and go out as batches.
        let busy = (0..<EtcdWriteBatcher.maxInFlight).map { batcher.txn(putIfEmpty("busy\($0)", "k"), on: "busy\($0)") }
        let contenders = (0..<6).map { batcher.txn(putIfEmpty("one", "k\($0)"), on: "one") }
        for future in busy { #expect(try await future.get().succeeded) }
        var granted = 0
        for future in contenders where try await future.get().succeeded { granted += 1 }
        #expect(granted == 1, "\(granted) of 6 put-if-empty on one resource succeeded")
        _ = try await client.deleteRange(prefix, rangeEnd: EtcdKey.prefixEnd(prefix)).get()
        _ = try await client.shutdown().get()
        try await group.shutdownGracefully()
    }
}

extension EtcdBackendTests {
    @Test("each daemon's /metrics counts what went through it, and etcd's request latency")
    func metrics() async throws {
        try await withEtcdDaemons(2) { daemons in
            let first = try await daemons[0].acquireLock("metered")
            let waiter = try await daemons[1].parkOnEtcd("metered")
            #expect(try await daemons[0].request(.DELETE, first).status == 204)
            #expect(try await waiter.answer().status == 201)
            let granting = try await daemons[0].scrape()
            #expect(granting.acquires("granted_at_once") == 1)
            #expect(granting["rdlm_releases_total"] == 1)
            #expect(granting["rdlm_lock_held_seconds_count"] == 1)
            #expect(granting["rdlm_locks_held"] == 0)
            #expect((granting["rdlm_etcd_request_duration_seconds_count"] ?? 0) >= 2)
            #expect(granting["rdlm_build_info{version=\"\(RDLMVersion.current)\",backend=\"etcd\"}"] == 1)
            let waited = try await daemons[1].scrape()
            #expect(waited.acquires("granted_after_waiting") == 1)
            #expect(waited["rdlm_locks_held"] == 1)
            #expect(waited["rdlm_resources"] == 1)
            #expect(waited["rdlm_journal_fsync_seconds_count"] == nil)
        }
    }
}
