import RDLMWire

/// A gateway answer that does not have the shape etcd's answers have.
struct GatewayShapeError: Error {
    var message: String
}

/// Reads the gateway's JSON defensively: a field at its default is left out (false, 0, an
/// empty list), int64 fields are strings (numbers are taken too).
struct GatewayObject: Sendable {
    let members: [String: JSONValue]

    init(_ value: JSONValue?) throws(GatewayShapeError) {
        switch value {
        case .object(let members): self.members = members
        case nil, .null: self.members = [:]
        case let other?: throw GatewayShapeError(message: "expected an object, got \(other.typeName)")
        }
    }

    subscript(_ name: String) -> JSONValue? { members[name] }

    func object(_ name: String) throws(GatewayShapeError) -> GatewayObject { try GatewayObject(members[name]) }

    func has(_ name: String) -> Bool { members[name] != nil }

    func int64(_ name: String) throws(GatewayShapeError) -> Int64 {
        switch members[name] {
        case nil, .null: return 0
        case .string(let text)?:
            guard let value = Int64(text) else { throw GatewayShapeError(message: "\(name): '\(text)' is not an int64") }
            return value
        case .number(let number)?:
            guard let value = Int64(exactly: number) else { throw GatewayShapeError(message: "\(name): \(number) is not an int64") }
            return value
        case let other?: throw GatewayShapeError(message: "\(name): expected an int64, got \(other.typeName)")
        }
    }

    func bool(_ name: String) throws(GatewayShapeError) -> Bool {
        switch members[name] {
        case nil, .null: return false
        case .bool(let flag)?: return flag
        case let other?: throw GatewayShapeError(message: "\(name): expected a boolean, got \(other.typeName)")
        }
    }

    func string(_ name: String) throws(GatewayShapeError) -> String {
        switch members[name] {
        case nil, .null: return ""
        case .string(let text)?: return text
        case let other?: throw GatewayShapeError(message: "\(name): expected a string, got \(other.typeName)")
        }
    }

    func bytes(_ name: String) throws(GatewayShapeError) -> [UInt8] {
        let text = try string(name)
        guard let bytes = Base64.decode(text) else { throw GatewayShapeError(message: "\(name): not base64") }
        return bytes
    }

    func array(_ name: String) throws(GatewayShapeError) -> [GatewayObject] {
        switch members[name] {
        case nil, .null: return []
        case .array(let elements)?:
            var objects: [GatewayObject] = []
            for element in elements { objects.append(try GatewayObject(element)) }
            return objects
        case let other?: throw GatewayShapeError(message: "\(name): expected an array, got \(other.typeName)")
        }
    }

    /// `header.revision`, the store's revision when the answer was made.
    func headerRevision() throws(GatewayShapeError) -> Int64 { try object("header").int64("revision") }
}

enum GatewayDecoding {
    static func keyValue(_ object: GatewayObject) throws(GatewayShapeError) -> EtcdKeyValue {
        EtcdKeyValue(
            key: String(decoding: try object.bytes("key"), as: UTF8.self),
            value: try object.bytes("value"),
            createRevision: try object.int64("create_revision"),
            modRevision: try object.int64("mod_revision"),
            version: try object.int64("version"),
            lease: try object.int64("lease")
        )
    }

    static func keyValues(_ objects: [GatewayObject]) throws(GatewayShapeError) -> [EtcdKeyValue] {
        var kvs: [EtcdKeyValue] = []
        kvs.reserveCapacity(objects.count)
        for object in objects { kvs.append(try keyValue(object)) }
        return kvs
    }

    static func optionalKeyValue(_ object: GatewayObject, _ name: String) throws(GatewayShapeError) -> EtcdKeyValue? {
        object.has(name) ? try keyValue(try object.object(name)) : nil
    }

    static func range(_ object: GatewayObject) throws(GatewayShapeError) -> EtcdRangeResult {
        EtcdRangeResult(kvs: try keyValues(try object.array("kvs")), count: try object.int64("count"), more: try object.bool("more"))
    }

    /// A transaction's answer, read against the request: an operation's answer whose fields
    /// are all defaults may come as `{}`, so the request says what each one is.
    static func txn(_ object: GatewayObject, request: EtcdTxn, parentRevision: Int64? = nil) throws(GatewayShapeError) -> EtcdTxnResult {
        let revision: Int64
        if let parentRevision { revision = parentRevision } else { revision = try object.headerRevision() }
        let succeeded = try object.bool("succeeded")
        let ops = succeeded ? request.success : request.failure
        let answers = try object.array("responses")
        guard answers.count == ops.count else {
            throw GatewayShapeError(message: "txn: \(answers.count) responses to \(ops.count) operations")
        }
        var responses: [EtcdOpResult] = []
        responses.reserveCapacity(ops.count)
        for (op, answer) in zip(ops, answers) {
            switch op {
            case .range:
                responses.append(.range(try range(try answer.object("response_range"))))
            case .put:
                responses.append(.put(prevKV: try optionalKeyValue(try answer.object("response_put"), "prev_kv")))
            case .deleteRange:
                let delete = try answer.object("response_delete_range")
                responses.append(.deleteRange(deleted: try delete.int64("deleted"), prevKVs: try keyValues(try delete.array("prev_kvs"))))
            case .txn(let nested):
                responses.append(.txn(try txn(try answer.object("response_txn"), request: nested, parentRevision: revision)))
            }
        }
        return EtcdTxnResult(revision: revision, succeeded: succeeded, responses: responses)
    }

    static func event(_ object: GatewayObject) throws(GatewayShapeError) -> EtcdEvent {
        let kind: EtcdEvent.Kind
        switch try object.string("type") {
        case "", "PUT": kind = .put
        case "DELETE": kind = .delete
        case let other: throw GatewayShapeError(message: "event type '\(other)'")
        }
        return EtcdEvent(kind: kind, kv: try keyValue(try object.object("kv")), prevKV: try optionalKeyValue(object, "prev_kv"))
    }
}
