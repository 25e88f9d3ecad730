/// A key as etcd stores it (mvccpb.KeyValue).
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    /// The revision of the write that created the key; a rewrite keeps it.
    public var createRevision: Int64
    /// The revision of the key's last write.
    public var modRevision: Int64
    /// How many times the key was written since it was created (1 for a new key).
    public var version: Int64
    /// The lease the key is attached to, 0 for none.
    public var lease: Int64

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// Key ranges as etcd names them: `[key, rangeEnd)`.
public enum EtcdKey {
    /// The range end that makes `[prefix, end)` every key starting with `prefix`: the prefix
    /// with its last byte below 0xFF increased by one (trailing 0xFF bytes dropped), or
    /// `"\0"` (every key from `prefix` on) when there is no such byte.
    public static func prefixEnd(_ prefix: String) -> String {
        String(decoding: prefixEndBytes(Array(prefix.utf8)), as: UTF8.self)
    }

    static func prefixEndBytes(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
