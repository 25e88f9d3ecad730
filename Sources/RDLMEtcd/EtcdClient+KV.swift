import NIOCore
import RDLMWire

extension EtcdClient {
    /// A linearizable read of `key`, or of `[key, rangeEnd)`; at `revision` when not 0.
    /// The answer's revision is the store's when it was read.
    public func range(
        _ key: String, rangeEnd: String? = nil, sort: EtcdSort = .none, revision: Int64 = 0
    ) -> EventLoopFuture<(revision: Int64, result: EtcdRangeResult)> {
        let body = GatewayEncoding.range(key: key, rangeEnd: rangeEnd, sort: sort, revision: revision)
        return decode(call("/v3/kv/range", body, idempotent: true)) { answer in
            (revision: try answer.headerRevision(), result: try GatewayDecoding.range(answer))
        }
    }

    /// One transaction. A read-only one is resent after a failure; one that writes is not
    /// (`.outcomeUnknown` when its answer was lost).
    public func txn(_ txn: EtcdTxn) -> EventLoopFuture<EtcdTxnResult> {
        decode(call("/v3/kv/txn", GatewayEncoding.txn(txn), idempotent: txn.isReadOnly)) { answer in
            try GatewayDecoding.txn(answer, request: txn)
        }
    }

    /// Writes `key`; the revision of the write.
    public func put(_ key: String, value: [UInt8], lease: Int64 = 0) -> EventLoopFuture<Int64> {
        let body = GatewayEncoding.put(key: key, value: value, lease: lease, prevKV: false)
        return decode(call("/v3/kv/put", body, idempotent: false)) { answer in
            try answer.headerRevision()
        }
    }

    /// Deletes `key`, or `[key, rangeEnd)`; the revision after it and how many keys went.
    public func deleteRange(_ key: String, rangeEnd: String? = nil) -> EventLoopFuture<(revision: Int64, deleted: Int64)> {
        let body = GatewayEncoding.deleteRange(key: key, rangeEnd: rangeEnd, prevKV: false)
        return decode(call("/v3/kv/deleterange", body, idempotent: false)) { answer in
            (revision: try answer.headerRevision(), deleted: try answer.int64("deleted"))
        }
    }

    /// Forgets the history before `revision`: watches and reads at older revisions fail
    /// `.compacted`. Compacting at or below the compact revision again fails `.compacted(0)`.
    public func compact(revision: Int64) -> EventLoopFuture<Void> {
        decode(call("/v3/kv/compaction", .object(["revision": GatewayEncoding.int64(revision)]), idempotent: false)) { _ in () }
    }

    /// Reads an answer into a result; an answer of the wrong shape fails `.rejected`.
    func decode<Value>(
        _ answer: EventLoopFuture<GatewayObject>, _ read: @escaping @Sendable (GatewayObject) throws -> Value
    ) -> EventLoopFuture<Value> {
        answer.flatMapThrowing { object in
            do {
                return try read(object)
            } catch let error as GatewayShapeError {
                throw EtcdError.rejected("unexpected answer from etcd: \(error.message)")
            }
        }
    }
}
