/// A condition of a transaction (etcd's Compare): the target of the key, or of every key
/// in `[key, rangeEnd)`, compared with a value. etcd compares an empty range as one key
/// whose revisions, version and lease are 0, so `createRevision == 0` asks "no such key".
public struct EtcdCompare: Sendable {
    public enum Result: Sendable { case equal, notEqual, greater, less }
    public enum Target: Sendable { case version(Int64), createRevision(Int64), modRevision(Int64), value([UInt8]), lease(Int64) }

    public var key: String
    public var rangeEnd: String?
    public var result: Result
    public var target: Target

    public init(key: String, rangeEnd: String? = nil, result: Result, target: Target) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.result = result
        self.target = target
    }
}

/// The order of a range's keys. Create-revision order is a lock queue's order.
public enum EtcdSort: Sendable { case none, createRevisionAscending }

/// One operation of a transaction (etcd's RequestOp).
public enum EtcdOp: Sendable {
    case range(key: String, rangeEnd: String?, limit: Int64 = 0, sort: EtcdSort = .none, countOnly: Bool = false, keysOnly: Bool = false)
    case put(key: String, value: [UInt8], lease: Int64, prevKV: Bool = false)
    case deleteRange(key: String, rangeEnd: String?, prevKV: Bool = false)
    indirect case txn(EtcdTxn)

    /// Whether the operation writes nothing, so that sending it twice is harmless.
    var isReadOnly: Bool {
        switch self {
        case .range: return true
        case .put, .deleteRange: return false
        case .txn(let txn): return txn.isReadOnly
        }
    }
}

/// A transaction: if every compare holds, the success operations, else the failure ones,
/// all at one revision. Its operations may be transactions themselves (etcd 3.3+).
public struct EtcdTxn: Sendable {
    public var compare: [EtcdCompare]
    public var success: [EtcdOp]
    public var failure: [EtcdOp]

    public init(compare: [EtcdCompare] = [], success: [EtcdOp] = [], failure: [EtcdOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    var isReadOnly: Bool { success.allSatisfy(\.isReadOnly) && failure.allSatisfy(\.isReadOnly) }
}

public struct EtcdRangeResult: Sendable {
    public var kvs: [EtcdKeyValue]
    /// How many keys the range holds, even when `limit` or `countOnly` left them out of `kvs`.
    public var count: Int64
    /// Whether `limit` left keys out.
    public var more: Bool

    public init(kvs: [EtcdKeyValue] = [], count: Int64 = 0, more: Bool = false) {
        self.kvs = kvs
        self.count = count
        self.more = more
    }
}

/// The answer to one operation of a transaction, in the order of the branch that ran.
public enum EtcdOpResult: Sendable {
    case range(EtcdRangeResult)
    case put(prevKV: EtcdKeyValue?)
    case deleteRange(deleted: Int64, prevKVs: [EtcdKeyValue])
    case txn(EtcdTxnResult)
}

public struct EtcdTxnResult: Sendable {
    /// The store's revision after the transaction (a nested transaction: its parent's).
    public var revision: Int64
    /// Whether the compares held, so that the success branch ran.
    public var succeeded: Bool
    public var responses: [EtcdOpResult]

    public init(revision: Int64, succeeded: Bool, responses: [EtcdOpResult]) {
        self.revision = revision
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// A lease as granted: its id and the TTL etcd chose (at least its minimum, 2 s by default).
public struct EtcdLease: Sendable, Equatable {
    public var id: Int64
    public var ttl: Int64

    public init(id: Int64, ttl: Int64) {
        self.id = id
        self.ttl = ttl
    }
}
