import Foundation
import NIOCore
import RDLMEtcd
import Testing

extension EtcdTests {
    @Suite("keys, values and transactions")
    struct KVTests {
        @Test("put, range and delete round-trip non-ASCII keys and binary values")
        func roundTrip() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("roundtrip")
                let key = prefix + "ключ-🔒"
                let value: [UInt8] = Array("ünïcødé ".utf8) + [0, 0xFF, 0x80, 10, 13]
                let revision = try await client.put(key, value: value).get()
                let read = try await client.range(key).get()
                #expect(read.revision >= revision)
                #expect(read.result.count == 1)
                let kv = try #require(read.result.kvs.first)
                #expect(kv.key == key)
                #expect(kv.value == value)
                #expect(kv.createRevision == revision && kv.modRevision == revision && kv.version == 1 && kv.lease == 0)
                _ = try await client.put(key, value: []).get()
                let rewritten = try #require(try await client.range(key).get().result.kvs.first)
                #expect(rewritten.value.isEmpty && rewritten.version == 2 && rewritten.createRevision == revision)
                let deleted = try await client.deleteRange(prefix, rangeEnd: EtcdKey.prefixEnd(prefix)).get()
                #expect(deleted.deleted == 1)
                let empty = try await client.range(key).get().result
                #expect(empty.kvs.isEmpty && empty.count == 0 && !empty.more)
            }
        }

        @Test("prefixEnd increments the last byte and drops trailing 0xFF")
        func prefixEnd() {
            #expect(EtcdKey.prefixEnd("/rdlm/locks/") == "/rdlm/locks0")
            #expect(EtcdKey.prefixEnd("a") == "b")
            #expect(EtcdKey.prefixEnd("") == "\u{0}")
        }

        @Test("a txn runs its success branch when compares hold, its failure branch when not")
        func txnBranches() async throws {
            try await EtcdCluster.withClient { client in
                let key = EtcdCluster.uniquePrefix("txn") + "k"
                let absent = EtcdCompare(key: key, result: .equal, target: .createRevision(0))
                // An empty range compares as one key of create revision 0.
                let create = EtcdTxn(compare: [absent], success: [.put(key: key, value: "first".bytes, lease: 0)], failure: [.range(key: key, rangeEnd: nil)])
                let first = try await client.txn(create).get()
                #expect(first.succeeded)
                guard case .put(let previous)? = first.responses.first else { Issue.record("not a put: \(first.responses)"); return }
                #expect(previous == nil)
                let second = try await client.txn(create).get()
                #expect(!second.succeeded)
                // Other suites write to the same cluster meanwhile: revisions only grow.
                #expect(second.revision >= first.revision)
                guard case .range(let range)? = second.responses.first else { Issue.record("not a range: \(second.responses)"); return }
                #expect(range.kvs.map(\.value) == ["first".bytes])
                #expect(range.kvs.first?.createRevision == first.revision)
                let byValue = EtcdTxn(
                    compare: [EtcdCompare(key: key, result: .equal, target: .value("first".bytes)), EtcdCompare(key: key, result: .greater, target: .version(0))],
                    success: [.put(key: key, value: "second".bytes, lease: 0, prevKV: true), .deleteRange(key: key + "-none", rangeEnd: nil)]
                )
                let third = try await client.txn(byValue).get()
                #expect(third.succeeded && third.revision > first.revision)
                guard case .put(let prior)? = third.responses.first, case .deleteRange(let deleted, let kvs)? = third.responses.last else {
                    Issue.record("unexpected: \(third.responses)"); return
                }
                #expect(prior?.value == "first".bytes)
                #expect(deleted == 0 && kvs.isEmpty)
            }
        }

        @Test("nested transactions: each with its own compares, one revision for all")
        func nestedTxn() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("nested")
                _ = try await client.put(prefix + "taken", value: "x".bytes).get()
                let claim = { (name: String) in
                    EtcdOp.txn(EtcdTxn(
                        compare: [EtcdCompare(key: prefix + name, result: .equal, target: .createRevision(0))],
                        success: [.put(key: prefix + name, value: "mine".bytes, lease: 0)],
                        failure: [.range(key: prefix + name, rangeEnd: nil)]
                    ))
                }
                let outer = try await client.txn(EtcdTxn(success: [claim("free"), claim("taken")])).get()
                #expect(outer.succeeded)
                guard case .txn(let free)? = outer.responses.first, case .txn(let taken)? = outer.responses.last else {
                    Issue.record("unexpected: \(outer.responses)"); return
                }
                #expect(free.succeeded && !taken.succeeded)
                #expect(free.revision == outer.revision && taken.revision == outer.revision)
                guard case .range(let range)? = taken.responses.first else { Issue.record("not a range"); return }
                #expect(range.kvs.first?.value == "x".bytes)
                let all = try await client.range(prefix, rangeEnd: EtcdKey.prefixEnd(prefix)).get().result
                #expect(all.kvs.map(\.key) == [prefix + "free", prefix + "taken"])
                #expect(all.kvs.first?.createRevision == outer.revision)
            }
        }

        @Test("a range sorted by create revision is in the order the keys were made")
        func sortedByCreateRevision() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("sorted")
                for name in ["b", "c", "a"] { _ = try await client.put(prefix + name, value: []).get() }
                _ = try await client.put(prefix + "b", value: "rewritten".bytes).get()  // keeps b's place
                let end = EtcdKey.prefixEnd(prefix)
                let byKey = try await client.range(prefix, rangeEnd: end).get().result
                #expect(byKey.kvs.map(\.key) == ["a", "b", "c"].map { prefix + $0 })
                let byCreation = try await client.range(prefix, rangeEnd: end, sort: .createRevisionAscending).get().result
                #expect(byCreation.kvs.map(\.key) == ["b", "c", "a"].map { prefix + $0 })
                #expect(byCreation.count == 3)
            }
        }

        @Test("a range at a compacted revision fails .compacted; at a kept one it reads the past")
        func rangeAtRevision() async throws {
            try await EtcdCluster.withClient { client in
                let key = EtcdCluster.uniquePrefix("history") + "k"
                let old = try await client.put(key, value: "old".bytes).get()
                _ = try await client.put(key, value: "new".bytes).get()
                let past = try await client.range(key, revision: old).get()
                #expect(past.result.kvs.first?.value == "old".bytes)
                let now = try await client.put(key, value: "newest".bytes).get()
                try await client.compact(revision: now).get()
                await #expect(throws: EtcdError.compacted(0)) { try await client.range(key, revision: old).get() }
            }
        }

        @Test("round trips per second for a put (logged, not asserted)")
        func putRate() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("rate")
                let sequential = 200
                var start = ContinuousClock.now
                for index in 0..<sequential { _ = try await client.put(prefix + "s\(index % 10)", value: "v".bytes).get() }
                let sequentialRate = Double(sequential) / (ContinuousClock.now - start).seconds
                let concurrent = 2000
                let width = 32
                start = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<width {
                        group.addTask {
                            for index in stride(from: lane, to: concurrent, by: width) {
                                _ = try await client.put(prefix + "c\(index % 100)", value: "v".bytes).get()
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let concurrentRate = Double(concurrent) / (ContinuousClock.now - start).seconds
                print("etcd put round trips: \(Int(sequentialRate))/s one at a time, \(Int(concurrentRate))/s with \(width) in flight")
                _ = try await client.deleteRange(prefix, rangeEnd: EtcdKey.prefixEnd(prefix)).get()
            }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
