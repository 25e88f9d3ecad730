import Foundation
import NIOCore

/// etcd's own lock, through the JSON gateway of etcd 3.4 (the v3lock service): the
/// comparison of the etcd scenario. Keys are base64 in JSON, int64 values are strings.
extension PreparedRequest {
    /// `POST /v3/lease/grant`: the lease the connection's lock keys are named after.
    static func etcdLeaseGrant(ttl: Int, host: String, allocator: ByteBufferAllocator) -> PreparedRequest {
        .etcdPost("/v3/lease/grant", body: "{\"TTL\": \(ttl)}", host: host, allocator: allocator)
    }

    /// `POST /v3/lock/lock`: answered 200 with the lock's key once it is held.
    static func etcdLock(_ name: String, lease: String, host: String, allocator: ByteBufferAllocator) -> PreparedRequest {
        let body = "{\"name\": \"\(Data(name.utf8).base64EncodedString())\", \"lease\": \"\(lease)\"}"
        return .etcdPost("/v3/lock/lock", body: body, host: host, allocator: allocator)
    }

    /// `POST /v3/lock/unlock` of the key a lock was answered with (already base64).
    static func etcdUnlock(key: String, host: String, allocator: ByteBufferAllocator) -> PreparedRequest {
        .etcdPost("/v3/lock/unlock", body: "{\"key\": \"\(key)\"}", host: host, allocator: allocator)
    }

    private static func etcdPost(_ path: String, body: String, host: String, allocator: ByteBufferAllocator) -> PreparedRequest {
        PreparedRequest(bytes: allocator.buffer(string:
            "POST \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"))
    }
}

/// The few fields the generator reads from the gateway's answers, e.g.
/// `{"header":{...,"revision":"2"},"key":"Zm9vLzUw..."}`: string values whose names occur
/// nowhere else in the answer, so a search for `"name":"` finds them without a JSON parser.
enum EtcdGatewayJSON {
    static func string(_ name: String, in body: ByteBuffer) -> String? {
        guard let text = body.getString(at: body.readerIndex, length: body.readableBytes),
              let field = text.range(of: "\"\(name)\":") else { return nil }
        let rest = text[field.upperBound...].drop { $0 == " " }
        guard rest.first == "\"" else { return nil }
        let value = rest.dropFirst()
        guard let end = value.firstIndex(of: "\"") else { return nil }
        return String(value[..<end])
    }
}
