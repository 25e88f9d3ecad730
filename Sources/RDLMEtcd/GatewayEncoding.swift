import RDLMWire

/// Request bodies in the gateway's JSON: proto field names, keys and values base64, int64
/// fields as strings, enums by name.
enum GatewayEncoding {
    static func bytes(_ text: String) -> JSONValue { .string(Base64.encode(text.utf8)) }
    static func bytes(_ value: [UInt8]) -> JSONValue { .string(Base64.encode(value)) }
    static func int64(_ value: Int64) -> JSONValue { .string(String(value)) }

    static func range(
        key: String, rangeEnd: String?, limit: Int64 = 0, sort: EtcdSort = .none,
        countOnly: Bool = false, keysOnly: Bool = false, revision: Int64 = 0
    ) -> JSONValue {
        var members = keyRange(key, rangeEnd)
        if limit > 0 { members["limit"] = int64(limit) }
        if revision > 0 { members["revision"] = int64(revision) }
        if sort == .createRevisionAscending {
            members["sort_order"] = .string("ASCEND")
            members["sort_target"] = .string("CREATE")
        }
        if countOnly { members["count_only"] = .bool(true) }
        if keysOnly { members["keys_only"] = .bool(true) }
        return .object(members)
    }

    static func put(key: String, value: [UInt8], lease: Int64, prevKV: Bool) -> JSONValue {
        var members: [String: JSONValue] = ["key": bytes(key), "value": bytes(value)]
        if lease != 0 { members["lease"] = int64(lease) }
        if prevKV { members["prev_kv"] = .bool(true) }
        return .object(members)
    }

    static func deleteRange(key: String, rangeEnd: String?, prevKV: Bool) -> JSONValue {
        var members = keyRange(key, rangeEnd)
        if prevKV { members["prev_kv"] = .bool(true) }
        return .object(members)
    }

    static func txn(_ txn: EtcdTxn) -> JSONValue {
        .object([
            "compare": .array(txn.compare.map(compare)),
            "success": .array(txn.success.map(op)),
            "failure": .array(txn.failure.map(op)),
        ])
    }

    static func op(_ op: EtcdOp) -> JSONValue {
        switch op {
        case let .range(key, rangeEnd, limit, sort, countOnly, keysOnly):
            return .object(["request_range": range(key: key, rangeEnd: rangeEnd, limit: limit, sort: sort, countOnly: countOnly, keysOnly: keysOnly)])
        case let .put(key, value, lease, prevKV):
            return .object(["request_put": put(key: key, value: value, lease: lease, prevKV: prevKV)])
        case let .deleteRange(key, rangeEnd, prevKV):
            return .object(["request_delete_range": deleteRange(key: key, rangeEnd: rangeEnd, prevKV: prevKV)])
        case let .txn(nested):
            return .object(["request_txn": txn(nested)])
        }
    }

    static func compare(_ compare: EtcdCompare) -> JSONValue {
        var members = keyRange(compare.key, compare.rangeEnd)
        switch compare.result {
        case .equal: members["result"] = .string("EQUAL")
        case .notEqual: members["result"] = .string("NOT_EQUAL")
        case .greater: members["result"] = .string("GREATER")
        case .less: members["result"] = .string("LESS")
        }
        // The target's value is always written, 0 included: it is a oneof, so a zero there is
        // set, not a default left out.
        switch compare.target {
        case .version(let version):
            members["target"] = .string("VERSION")
            members["version"] = int64(version)
        case .createRevision(let revision):
            members["target"] = .string("CREATE")
            members["create_revision"] = int64(revision)
        case .modRevision(let revision):
            members["target"] = .string("MOD")
            members["mod_revision"] = int64(revision)
        case .value(let value):
            members["target"] = .string("VALUE")
            members["value"] = bytes(value)
        case .lease(let lease):
            members["target"] = .string("LEASE")
            members["lease"] = int64(lease)
        }
        return .object(members)
    }

    private static func keyRange(_ key: String, _ rangeEnd: String?) -> [String: JSONValue] {
        var members: [String: JSONValue] = ["key": bytes(key)]
        if let rangeEnd { members["range_end"] = bytes(rangeEnd) }
        return members
    }
}
