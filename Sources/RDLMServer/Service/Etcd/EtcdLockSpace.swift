import RDLMCore
import RDLMEtcd
import RDLMWire

/// Where a lock space lives in etcd, and how one lock is spelled there (docs/etcd-backend.md):
///
///     <prefix>locks/<resource>/x/<uid>    an exclusive lock, held or waiting
///     <prefix>locks/<resource>/s/<uid>    a shared one
///
/// Resource names are `[a-zA-Z0-9]+`, so the `/` after one ends it and no resource's range
/// holds another's. Exclusive and shared keys are apart so that one compare over a range can
/// ask whether any exclusive lock is queued on a resource.
struct EtcdLockSpace: Sendable {
    /// Ends with `/`.
    let prefix: String

    init(prefix: String) {
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// Every lock of every resource.
    var locksPrefix: String { prefix + "locks/" }

    func resourcePrefix(_ resource: String) -> String {
        locksPrefix + resource + "/"
    }

    func modePrefix(_ resource: String, _ mode: LockMode) -> String {
        resourcePrefix(resource) + Self.letter(mode) + "/"
    }

    func key(_ resource: String, _ mode: LockMode, _ id: LockID) -> String {
        modePrefix(resource, mode) + id.description
    }

    /// What a lock of `mode` waits behind: any lock for an exclusive one, an exclusive one for
    /// a shared one. As a range compare, "create revision 0" means none exists.
    func blockingRange(_ resource: String, _ mode: LockMode) -> (key: String, end: String) {
        let start = mode == .exclusive ? resourcePrefix(resource) : modePrefix(resource, .exclusive)
        return (start, EtcdKey.prefixEnd(start))
    }

    /// The parts of a lock's key; nil for a key that is not one (written by someone else).
    func parse(_ key: String) -> (resource: String, mode: LockMode, id: LockID)? {
        guard key.hasPrefix(locksPrefix) else { return nil }
        let parts = key.utf8.dropFirst(locksPrefix.utf8.count).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 3, let resource = String(parts[0]), ResourceName.isValid(resource),
              let letter = String(parts[1]), let mode = Self.mode(letter),
              let uid = String(parts[2]), let id = LockID(hex: uid)
        else { return nil }
        return (resource, mode, id)
    }

    /// The resource a key of `locksPrefix` belongs to, for the admin list.
    func resource(of key: String) -> String? {
        parse(key)?.resource
    }

    private static func letter(_ mode: LockMode) -> String {
        mode == .exclusive ? "x" : "s"
    }

    private static func mode(_ letter: String) -> LockMode? {
        switch letter {
        case "x": return .exclusive
        case "s": return .shared
        default: return nil
        }
    }
}

/// A lock's value in etcd: JSON, times as wall-clock microseconds since the epoch, so every
/// daemon (each with its own monotonic clock) reads the same instants. The fencing token is
/// not stored: it is the key's create revision.
struct EtcdLockRecord: Sendable, Equatable {
    var title: String
    var lifetimeMicroseconds: Int64
    var waitMicroseconds: Int64
    var client: String?
    /// The daemon that wrote this version: the one whose timers end it precisely.
    var daemon: String
    /// When the request was made.
    var sinceMicroseconds: Int64
    /// When a waiter gives up.
    var waitUntilMicroseconds: Int64
    /// Set once granted.
    var grantedMicroseconds: Int64?
    var expiresMicroseconds: Int64?

    var isGranted: Bool { grantedMicroseconds != nil }

    /// A holder past its lifetime, or a waiter past its wait: a key that stays only until
    /// etcd's lease deletes it (its daemon died or was cut off) is no lock.
    func hasEnded(at now: Int64) -> Bool {
        (expiresMicroseconds ?? waitUntilMicroseconds) <= now
    }

    init(_ request: LockRequest, daemon: String, now: Int64) {
        title = request.title
        lifetimeMicroseconds = request.lifetime.microseconds
        waitMicroseconds = request.wait.microseconds
        client = request.client
        self.daemon = daemon
        sinceMicroseconds = now
        waitUntilMicroseconds = now + waitMicroseconds
    }

    /// This record granted at `now`, by `daemon`.
    func granted(at now: Int64, by daemon: String) -> EtcdLockRecord {
        var record = self
        record.daemon = daemon
        record.grantedMicroseconds = now
        record.expiresMicroseconds = now + lifetimeMicroseconds
        return record
    }

    /// The request it was made from.
    var request: LockRequest {
        LockRequest(
            title: title, lifetime: .microseconds(lifetimeMicroseconds), wait: .microseconds(waitMicroseconds),
            client: client)
    }

    var bytes: [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("title", title)
        writer.field("lifetime_us", Int(lifetimeMicroseconds))
        writer.field("wait_us", Int(waitMicroseconds))
        if let client { writer.field("client", client) }
        writer.field("daemon", daemon)
        writer.field("since_us", Int(sinceMicroseconds))
        writer.field("wait_until_us", Int(waitUntilMicroseconds))
        if let grantedMicroseconds, let expiresMicroseconds {
            writer.field("granted_us", Int(grantedMicroseconds))
            writer.field("expires_us", Int(expiresMicroseconds))
        }
        writer.endObject()
        return Array(writer.text.utf8)
    }

    /// Nil for a value this code did not write.
    init?(bytes: [UInt8]) {
        guard case .object(let fields)? = try? JSONParser.parse(bytes),
              case .string(let title)? = fields["title"], case .string(let daemon)? = fields["daemon"],
              let lifetime = Self.integer(fields["lifetime_us"]), let wait = Self.integer(fields["wait_us"]),
              let since = Self.integer(fields["since_us"]), let waitUntil = Self.integer(fields["wait_until_us"])
        else { return nil }
        self.title = title
        self.daemon = daemon
        lifetimeMicroseconds = lifetime
        waitMicroseconds = wait
        sinceMicroseconds = since
        waitUntilMicroseconds = waitUntil
        if case .string(let client)? = fields["client"] { self.client = client }
        grantedMicroseconds = Self.integer(fields["granted_us"])
        expiresMicroseconds = Self.integer(fields["expires_us"])
    }

    /// The lock as the HTTP layer shows it, its instants on this process's monotonic clock.
    func lockInfo(id: LockID, resource: String, mode: LockMode, token: Int64, wall: WallClock) -> LockInfo {
        var request = self.request
        request.mode = mode
        let state: LockState
        if let grantedMicroseconds, let expiresMicroseconds {
            state = .active(
                since: wall.instant(grantedMicroseconds * 1_000), expires: wall.instant(expiresMicroseconds * 1_000),
                token: FencingToken(token))
        } else {
            state = .waiting(since: wall.instant(sinceMicroseconds * 1_000), expires: wall.instant(waitUntilMicroseconds * 1_000))
        }
        return LockInfo(id: id, resource: resource, request: request, state: state)
    }

    private static func integer(_ value: JSONValue?) -> Int64? {
        guard case .number(let number)? = value, number == number.rounded(), abs(number) < 9e15 else { return nil }
        return Int64(number)
    }
}

extension WallClock {
    /// Now, in wall-clock microseconds since the epoch.
    func microseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        nanoseconds(instant) / 1_000
    }
}
