import RDLMCore
import Testing
@testable import RDLMServer

/// The etcd backend's pure parts: its keys, its values, and the queue rule it grants by.
@Suite("etcd backend: keys, values and queues")
struct EtcdQueueTests {
    static let space = EtcdLockSpace(prefix: "/rdlm")
    static let a = LockID(high: 1, low: 1)
    static let b = LockID(high: 2, low: 2)
    static let c = LockID(high: 3, low: 3)

    @Test("keys spell resource, mode and uid, and parse back; foreign keys do not parse")
    func keys() {
        let key = Self.space.key("deploy", .shared, Self.a)
        #expect(key == "/rdlm/locks/deploy/s/\(Self.a)")
        let parsed = Self.space.parse(key)
        #expect(parsed?.resource == "deploy")
        #expect(parsed?.mode == .shared)
        #expect(parsed?.id == Self.a)
        for foreign in ["/rdlm/locks/deploy/q/\(Self.a)", "/rdlm/locks/deploy/x/nothex", "/rdlm/locks/de-ploy/x/\(Self.a)",
                        "/rdlm/other/deploy/x/\(Self.a)", "/rdlm/locks/deploy/x/\(Self.a)/more", "/rdlm/locks/deploy"] {
            #expect(Self.space.parse(foreign) == nil, "\(foreign)")
        }
    }

    @Test("one resource's range holds none of another's, and a shared lock is blocked only by exclusive keys")
    func ranges() {
        let all = Self.space.blockingRange("a", .exclusive)
        #expect(all.key == "/rdlm/locks/a/")
        #expect(all.end == "/rdlm/locks/a0")
        // "ab" sorts after "a/" ... "a0": outside a's range.
        let other = Self.space.key("ab", .exclusive, Self.a)
        #expect(!(other >= all.key && other < all.end))
        let shared = Self.space.blockingRange("a", .shared)
        #expect(shared.key == "/rdlm/locks/a/x/")
        let sharedKey = Self.space.key("a", .shared, Self.b)
        #expect(!(sharedKey >= shared.key && sharedKey < shared.end))
        let exclusiveKey = Self.space.key("a", .exclusive, Self.b)
        #expect(exclusiveKey >= shared.key && exclusiveKey < shared.end)
    }

    @Test("a value round-trips, waiting and granted, and a foreign one is refused")
    func values() {
        let request = LockRequest(title: "nightly \"report\" ✓", lifetime: .milliseconds(1_500), wait: .seconds(3), mode: .exclusive, client: "10.0.0.1")
        let waiting = EtcdLockRecord(request, daemon: "d1", now: 1_700_000_000_000_000)
        #expect(EtcdLockRecord(bytes: waiting.bytes) == waiting)
        #expect(!waiting.isGranted)
        #expect(waiting.waitUntilMicroseconds == 1_700_000_003_000_000)
        let granted = waiting.granted(at: 1_700_000_001_000_000, by: "d2")
        #expect(EtcdLockRecord(bytes: granted.bytes) == granted)
        #expect(granted.expiresMicroseconds == 1_700_000_002_500_000)
        #expect(granted.daemon == "d2")
        #expect(granted.request.lifetime == .milliseconds(1_500))
        #expect(EtcdLockRecord(bytes: Array("{\"title\": 1}".utf8)) == nil)
        #expect(EtcdLockRecord(bytes: Array("not json".utf8)) == nil)
    }

    @Test("FIFO: an exclusive lock holds alone at the front; a shared one when no exclusive is ahead")
    func rule() {
        var queue = EtcdQueue([
            .init(revision: 10, id: Self.a, mode: .shared),
            .init(revision: 12, id: Self.b, mode: .exclusive),
            .init(revision: 13, id: LockID(high: 4, low: 4), mode: .shared),
            .init(revision: 11, id: Self.c, mode: .shared),
        ])
        #expect(queue.entries.map(\.revision) == [10, 11, 12, 13])
        #expect(queue.mayHold(revision: 10) && queue.mayHold(revision: 11))
        #expect(!queue.mayHold(revision: 12))
        // A shared request behind a waiting exclusive one waits: neither mode starves.
        #expect(!queue.mayHold(revision: 13))
        #expect(queue.waiterCount == 2)
        queue.remove(Self.a, .shared)
        #expect(!queue.mayHold(revision: 12))
        queue.remove(Self.c, .shared)
        #expect(queue.mayHold(revision: 12))
        #expect(!queue.mayHold(revision: 13))
        // Removing the wrong mode removes nothing.
        queue.remove(Self.b, .shared)
        #expect(queue.entries.map(\.revision) == [12, 13])
        #expect(!queue.mayHold(revision: 99))
    }
}
