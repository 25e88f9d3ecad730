import Foundation
import RDLMEtcd
import RDLMTestSupport
import Testing

extension EtcdTests {
    /// Members killed and brought back. Each test leaves the whole cluster serving.
    @Suite("faults", .serialized)
    struct FaultTests {
        /// The revision of a put of a new key that is made to happen: when its answer is lost
        /// (a member's death can close other members' connections), a read says whether it
        /// was applied, and it is sent again only if not.
        static func put(_ key: String, _ value: String, through client: EtcdClient) async throws -> Int64 {
            for _ in 0..<20 {
                do {
                    return try await client.put(key, value: value.bytes).get()
                } catch EtcdError.outcomeUnknown, EtcdError.unavailable {
                    if let kv = try? await client.range(key).get().result.kvs.first { return kv.modRevision }
                }
            }
            throw ConditionFailed(description: "no put of \(key) got through")
        }

        /// Ports nothing listens on.
        static let deadEndpoints = ["http://127.0.0.1:1", "http://127.0.0.1:9", "http://127.0.0.1:19"]

        @Test("with every endpoint dead, a read and a write fail .unavailable within the timeout")
        func allEndpointsDead() async throws {
            try await EtcdCluster.withClient(endpoints: Self.deadEndpoints, requestTimeout: .seconds(1)) { client in
                let started = ContinuousClock.now
                await #expect(throws: EtcdError.self) { try await client.range("k").get() }
                let error = await #expect(throws: EtcdError.self) { try await client.put("k", value: []).get() }
                guard case .unavailable(let reason)? = error else { Issue.record("not unavailable: \(String(describing: error))"); return }
                #expect(reason.contains("127.0.0.1") || reason.contains("no answer"), "\(reason)")
                // 1 s each, with room for a loaded machine; never the minutes of a hang.
                #expect(ContinuousClock.now - started < .seconds(10))
            }
        }

        @Test("a watch no member serves ends .unavailable after the reconnect window")
        func watchWithEveryEndpointDead() async throws {
            try await EtcdCluster.withClient(endpoints: Self.deadEndpoints, watchReconnectWindow: .seconds(1)) { client in
                let log = WatchLog()
                let started = ContinuousClock.now
                let watch = client.watch(key: "k", rangeEnd: nil, startRevision: 0, prevKV: false) { log.record($0) }
                defer { watch.cancel() }
                try await eventually("the watch ended", timeout: .seconds(10)) { log.ended != nil }
                guard case .unavailable? = log.ended else { Issue.record("ended \(String(describing: log.ended))"); return }
                #expect(ContinuousClock.now - started >= .seconds(1))
                #expect(ContinuousClock.now - started < .seconds(4))
            }
        }

        @Test("a watch survives the kill of its member: nothing lost, nothing twice, and on after it returns")
        func watchSurvivesMemberKill() async throws {
            try await EtcdCluster.withClient(order: [1, 2, 3]) { watcher in
                // Writes go through the members that stay.
                try await EtcdCluster.withClient(order: [2, 3, 1]) { writer in
                    let prefix = EtcdCluster.uniquePrefix("failover")
                    let log = WatchLog()
                    let start = try await writer.range(prefix).get().revision + 1
                    // The watcher's client prefers member 1, so its watch is there.
                    let watch = watcher.watch(key: prefix, rangeEnd: EtcdKey.prefixEnd(prefix), startRevision: start, prevKV: false) { log.record($0) }
                    defer { watch.cancel() }
                    var revisions: [Int64] = []
                    for index in 0..<5 { revisions.append(try await Self.put(prefix + "k\(index)", "\(index)", through: writer)) }
                    try await eventually("the first five arrived", timeout: .seconds(10)) { log.events.count >= 5 }
                    try EtcdCluster.run("stop-member", member: 1)
                    do {
                        for index in 5..<10 { revisions.append(try await Self.put(prefix + "k\(index)", "\(index)", through: writer)) }
                        try await eventually("the five after the kill arrived", timeout: .seconds(15)) { log.events.count >= 10 }
                    } catch {
                        try EtcdCluster.run("start-member", member: 1)
                        throw error
                    }
                    try EtcdCluster.run("start-member", member: 1)
                    for index in 10..<12 { revisions.append(try await Self.put(prefix + "k\(index)", "\(index)", through: writer)) }
                    try await eventually("the writes after the restart arrived", timeout: .seconds(15)) { log.events.count >= 12 }
                    let seen = log.events.map(\.kv.modRevision)
                    #expect(seen == revisions, "each write exactly once, in order")
                    #expect(log.events.map { String(decoding: $0.kv.value, as: UTF8.self) } == (0..<12).map(String.init))
                    #expect(log.ended == nil)
                }
            }
        }

        @Test("without quorum a txn fails within the timeout with a reason; service resumes when members return")
        func quorumLoss() async throws {
            try await EtcdCluster.withClient(requestTimeout: .seconds(2)) { client in
                let key = EtcdCluster.uniquePrefix("quorum") + "k"
                _ = try await client.put(key, value: []).get()
                let write = EtcdTxn(
                    compare: [EtcdCompare(key: key, result: .greater, target: .createRevision(0))],
                    success: [.put(key: key, value: "x".bytes, lease: 0)]
                )
                try EtcdCluster.run("stop-member", member: 2)
                try EtcdCluster.run("stop-member", member: 3)
                var failure: EtcdError?
                do {
                    let started = ContinuousClock.now
                    do {
                        _ = try await client.txn(write).get()
                        Issue.record("a txn succeeded without quorum")
                    } catch let error as EtcdError {
                        failure = error
                    }
                    #expect(ContinuousClock.now - started < .seconds(3), "the request's timeout bounds it")
                    // Once the member left has seen the leader go, it refuses at once.
                    try await eventually("a read is refused as unavailable", timeout: .seconds(10)) {
                        do {
                            _ = try await client.range(key).get()
                            return false
                        } catch EtcdError.unavailable {
                            return true
                        }
                    }
                } catch {
                    try EtcdCluster.run("start-member", member: 2)
                    try EtcdCluster.run("start-member", member: 3)
                    throw error
                }
                try EtcdCluster.run("start-member", member: 2)
                try EtcdCluster.run("start-member", member: 3)
                let error = try #require(failure)
                switch error {
                case .unavailable, .outcomeUnknown: #expect(!error.reason.isEmpty)
                default: Issue.record("not an availability failure: \(error)")
                }
                print("txn without quorum: \(error.reason)")
                try await eventually("a txn succeeds again", timeout: .seconds(20)) {
                    (try? await client.txn(write).get())?.succeeded == true
                }
            }
        }
    }
}
