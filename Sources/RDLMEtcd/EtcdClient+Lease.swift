import NIOCore
import RDLMWire

extension EtcdClient {
    /// A new lease; etcd raises `ttl` to its minimum (2 s by default).
    public func grantLease(ttl: Int64) -> EventLoopFuture<EtcdLease> {
        let body = JSONValue.object(["TTL": GatewayEncoding.int64(ttl)])
        return decode(call("/v3/lease/grant", body, idempotent: false)) { answer in
            if case .string(let error)? = answer["error"], !error.isEmpty { throw GatewayShapeError(message: error) }
            return EtcdLease(id: try answer.int64("ID"), ttl: try answer.int64("TTL"))
        }
    }

    /// Renews lease `id` to its full TTL; the TTL. Fails `.rejected("lease not found")` when
    /// the lease is gone (etcd answers a TTL of 0, or none). Resent after a failure: renewing
    /// twice is renewing.
    public func keepAlive(_ id: Int64) -> EventLoopFuture<Int64> {
        let body = JSONValue.object(["ID": GatewayEncoding.int64(id)])
        return decode(call("/v3/lease/keepalive", body, idempotent: true)) { answer in
            let ttl = try answer.object("result").int64("TTL")
            guard ttl > 0 else { throw EtcdError.rejected("lease not found") }
            return ttl
        }
    }

    /// Ends lease `id` and deletes the keys attached to it.
    public func revokeLease(_ id: Int64) -> EventLoopFuture<Void> {
        decode(call("/v3/lease/revoke", .object(["ID": GatewayEncoding.int64(id)]), idempotent: false)) { _ in () }
    }

    /// The seconds lease `id` has left, -1 when it is gone.
    public func timeToLive(_ id: Int64) -> EventLoopFuture<Int64> {
        let body = JSONValue.object(["ID": GatewayEncoding.int64(id)])
        return decode(call("/v3/lease/timetolive", body, idempotent: true)) { answer in
            try answer.int64("TTL")
        }
    }
}
