import Foundation
import RDLMEtcd
import RDLMTestSupport
import Testing

extension EtcdTests {
    @Suite("watches")
    struct WatchTests {
        @Test("a watch delivers puts and deletes in order, each with its revision")
        func putsAndDeletesInOrder() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("watch")
                let log = WatchLog()
                let start = try await client.range(prefix).get().revision + 1
                let watch = client.watch(key: prefix, rangeEnd: EtcdKey.prefixEnd(prefix), startRevision: start, prevKV: true) { log.record($0) }
                defer { watch.cancel() }
                let first = try await client.put(prefix + "a", value: "1".bytes).get()
                let second = try await client.put(prefix + "a", value: "2".bytes).get()
                let removed = try await client.deleteRange(prefix + "a").get().revision
                try await eventually("three events arrived", timeout: .seconds(10)) { log.events.count >= 3 }
                let events = log.events
                #expect(events.map(\.kind) == [.put, .put, .delete])
                #expect(events.map(\.kv.modRevision) == [first, second, removed])
                #expect(events[1].prevKV?.value == "1".bytes)
                #expect(events[2].prevKV?.value == "2".bytes)
                #expect(events.allSatisfy { $0.kv.key == prefix + "a" })
                for update in log.all {
                    if case .events(let revision, let batch) = update { #expect(revision == batch.last?.kv.modRevision) }
                }
                #expect(log.ended == nil)
            }
        }

        @Test("a deletes-only watch gets the deletes and none of the puts")
        func deletesOnly() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("noput")
                let log = WatchLog()
                let start = try await client.range(prefix).get().revision + 1
                let watch = client.watch(key: prefix, rangeEnd: EtcdKey.prefixEnd(prefix), startRevision: start, prevKV: false, deletesOnly: true) { log.record($0) }
                defer { watch.cancel() }
                _ = try await client.put(prefix + "a", value: "1".bytes).get()
                _ = try await client.put(prefix + "b", value: "1".bytes).get()
                let first = try await client.deleteRange(prefix + "a").get().revision
                _ = try await client.put(prefix + "a", value: "2".bytes).get()
                let second = try await client.deleteRange(prefix + "b").get().revision
                try await eventually("two events arrived", timeout: .seconds(10)) { log.events.count >= 2 }
                // The last delete's revision is delivered only after every put before it was
                // filtered: nothing else can arrive.
                #expect(log.events.map(\.kind) == [.delete, .delete])
                #expect(log.events.map(\.kv.key) == [prefix + "a", prefix + "b"])
                #expect(log.events.map(\.kv.modRevision) == [first, second])
            }
        }

        @Test("a watch from revision 0 starts now; a quiet one gets progress")
        func fromNowAndProgress() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("now")
                _ = try await client.put(prefix + "before", value: []).get()
                let log = WatchLog()
                let watch = client.watch(key: prefix, rangeEnd: EtcdKey.prefixEnd(prefix), startRevision: 0, prevKV: false) { log.record($0) }
                defer { watch.cancel() }
                // The cluster script sets a 1 s progress interval.
                try await eventually("a progress notification came", timeout: .seconds(10)) {
                    log.all.contains { if case .progress = $0 { true } else { false } }
                }
                _ = try await client.put(prefix + "after", value: []).get()
                try await eventually("the put arrived", timeout: .seconds(10)) { !log.events.isEmpty }
                #expect(log.events.map(\.kv.key) == [prefix + "after"])
            }
        }

        @Test("a watch from a compacted revision ends .compacted with the compact revision")
        func compactedStart() async throws {
            try await EtcdCluster.withClient { client in
                let key = EtcdCluster.uniquePrefix("compacted") + "k"
                let old = try await client.put(key, value: []).get()
                let now = try await client.put(key, value: []).get()
                try await client.compact(revision: now).get()
                let log = WatchLog()
                let watch = client.watch(key: key, rangeEnd: nil, startRevision: old, prevKV: false) { log.record($0) }
                defer { watch.cancel() }
                try await eventually("the watch ended", timeout: .seconds(10)) { log.ended != nil }
                guard case .compacted(let revision)? = log.ended else { Issue.record("ended \(String(describing: log.ended))"); return }
                #expect(revision >= now)
                #expect(log.events.isEmpty)
            }
        }

        @Test("a cancelled watch delivers nothing more")
        func cancel() async throws {
            try await EtcdCluster.withClient { client in
                let key = EtcdCluster.uniquePrefix("cancel") + "k"
                let log = WatchLog()
                let watch = client.watch(key: key, rangeEnd: nil, startRevision: 0, prevKV: false) { log.record($0) }
                _ = try await client.put(key, value: []).get()
                try await eventually("the put arrived", timeout: .seconds(10)) { log.events.count == 1 }
                watch.cancel()
                let count = log.all.count
                _ = try await client.put(key, value: []).get()
                _ = try await client.range(key).get()
                try await Task.sleep(for: .milliseconds(300))  // proving an absence: nothing to poll for
                #expect(log.all.count == count)
            }
        }
    }
}
