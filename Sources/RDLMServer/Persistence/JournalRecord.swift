import RDLMCore

/// One entry of the journal or of a snapshot. Times are wall-clock nanoseconds since the
/// Unix epoch: a monotonic instant means nothing to the next process.
enum JournalRecord: Equatable, Sendable {
    case granted(StoredLock)
    case released(LockID)
    case refreshed(LockID, lifetimeMicroseconds: Int64, expiresWallNanoseconds: Int64)
    /// Opens a snapshot: the fencing counter when it was taken.
    case snapshotBegin(lastFencingToken: FencingToken)
    /// Closes a snapshot: how many locks it holds, so a cut-short snapshot is recognised.
    case snapshotEnd(count: UInt64)

    /// A holder as stored.
    struct StoredLock: Equatable, Sendable {
        var id: LockID
        var resource: String
        var title: String
        var lifetimeMicroseconds: Int64
        var waitMicroseconds: Int64
        var mode: LockMode
        var token: FencingToken
        var sinceWallNanoseconds: Int64
        var expiresWallNanoseconds: Int64
    }

    private enum Kind: UInt8 {
        case granted = 1, released, refreshed, snapshotBegin, snapshotEnd
    }

    func encode(into bytes: inout [UInt8]) {
        switch self {
        case .granted(let lock):
            bytes.append(Kind.granted.rawValue)
            Self.put(lock.id, &bytes)
            Self.put(lock.resource, &bytes)
            Self.put(lock.title, &bytes)
            Self.put(UInt64(bitPattern: lock.lifetimeMicroseconds), &bytes)
            Self.put(UInt64(bitPattern: lock.waitMicroseconds), &bytes)
            bytes.append(lock.mode == .shared ? 1 : 0)
            Self.put(lock.token, &bytes)
            Self.put(UInt64(bitPattern: lock.sinceWallNanoseconds), &bytes)
            Self.put(UInt64(bitPattern: lock.expiresWallNanoseconds), &bytes)
        case .released(let id):
            bytes.append(Kind.released.rawValue)
            Self.put(id, &bytes)
        case .refreshed(let id, let lifetime, let expires):
            bytes.append(Kind.refreshed.rawValue)
            Self.put(id, &bytes)
            Self.put(UInt64(bitPattern: lifetime), &bytes)
            Self.put(UInt64(bitPattern: expires), &bytes)
        case .snapshotBegin(let token):
            bytes.append(Kind.snapshotBegin.rawValue)
            Self.put(token, &bytes)
        case .snapshotEnd(let count):
            bytes.append(Kind.snapshotEnd.rawValue)
            Self.put(count, &bytes)
        }
    }

    /// Decodes a payload whose checksum already matched; `nil` if it is not a record this
    /// version knows (which a matching checksum makes a format error, not a torn write).
    static func decode(_ payload: ArraySlice<UInt8>) -> JournalRecord? {
        var reader = Reader(bytes: payload)
        guard let kind = reader.byte().flatMap(Kind.init(rawValue:)) else { return nil }
        let record: JournalRecord?
        switch kind {
        case .granted:
            guard let id = reader.id(), let resource = reader.string(), let title = reader.string(),
                  let lifetime = reader.uint64(), let wait = reader.uint64(), let mode = reader.byte(),
                  let token = reader.uint64(), let since = reader.uint64(), let expires = reader.uint64()
            else { return nil }
            record = .granted(StoredLock(
                id: id, resource: resource, title: title,
                lifetimeMicroseconds: Int64(bitPattern: lifetime), waitMicroseconds: Int64(bitPattern: wait),
                mode: mode == 1 ? .shared : .exclusive, token: token,
                sinceWallNanoseconds: Int64(bitPattern: since), expiresWallNanoseconds: Int64(bitPattern: expires)))
        case .released:
            record = reader.id().map { .released($0) }
        case .refreshed:
            guard let id = reader.id(), let lifetime = reader.uint64(), let expires = reader.uint64() else { return nil }
            record = .refreshed(id, lifetimeMicroseconds: Int64(bitPattern: lifetime), expiresWallNanoseconds: Int64(bitPattern: expires))
        case .snapshotBegin:
            record = reader.uint64().map { .snapshotBegin(lastFencingToken: $0) }
        case .snapshotEnd:
            record = reader.uint64().map { .snapshotEnd(count: $0) }
        }
        return reader.isAtEnd ? record : nil
    }

    private static func put(_ value: UInt64, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func put(_ id: LockID, _ bytes: inout [UInt8]) {
        put(id.high, &bytes)
        put(id.low, &bytes)
    }

    private static func put(_ string: String, _ bytes: inout [UInt8]) {
        put(UInt64(string.utf8.count), &bytes)
        bytes.append(contentsOf: string.utf8)
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>

        var isAtEnd: Bool { bytes.isEmpty }

        mutating func byte() -> UInt8? {
            bytes.popFirst()
        }

        mutating func uint64() -> UInt64? {
            guard bytes.count >= 8 else { return nil }
            var value: UInt64 = 0
            for (shift, byte) in bytes.prefix(8).enumerated() {
                value |= UInt64(byte) << UInt64(shift * 8)
            }
            bytes = bytes.dropFirst(8)
            return value
        }

        mutating func id() -> LockID? {
            guard let high = uint64(), let low = uint64() else { return nil }
            return LockID(high: high, low: low)
        }

        mutating func string() -> String? {
            guard let length = uint64(), length <= UInt64(bytes.count) else { return nil }
            let text = bytes.prefix(Int(length))
            bytes = bytes.dropFirst(Int(length))
            return String(validating: text, as: UTF8.self)
        }
    }
}
