import Foundation
import RDLMClient

/// A lock as `rdlm` prints it with `--json`: the server's field names (snake case), plus
/// the lock's absolute URL and resource. Fields a lock does not have are left out.
/// RDLMClient parses the server's document into its public `LockDetails`, which is not
/// `Encodable`: this is only the encoding of that, or of a `Lock` just granted.
struct LockJSON: Encodable {
    var url: String
    var resource: String
    var uid: String
    var title: String
    var mode: String
    var active: Bool
    var lifetime: Double
    var wait: Double?
    var fencingToken: UInt64?
    var activeSince: String?
    var activeExpires: String?
    var waitSince: String?
    var waitExpires: String?

    enum CodingKeys: String, CodingKey {
        case url, resource, uid, title, mode, active, lifetime, wait
        case fencingToken = "fencing_token"
        case activeSince = "active_since"
        case activeExpires = "active_expires"
        case waitSince = "wait_since"
        case waitExpires = "wait_expires"
    }

    init(_ details: LockDetails) {
        url = details.url.absoluteString
        resource = details.resource
        uid = details.uid
        title = details.title
        mode = details.mode.rawValue
        active = details.isActive
        lifetime = details.lifetime.seconds
        wait = details.wait.seconds
        fencingToken = details.fencingToken
        activeSince = details.activeSince.map(Timestamp.iso)
        activeExpires = details.activeExpires.map(Timestamp.iso)
        waitSince = details.waitSince.map(Timestamp.iso)
        waitExpires = details.waitExpires.map(Timestamp.iso)
    }

    /// A lock just granted, for when the server's own description could not be read.
    init(_ lock: Lock, wait: Duration) {
        url = lock.url.absoluteString
        resource = lock.resource
        uid = lock.uid
        title = lock.title
        mode = lock.mode.rawValue
        active = true
        lifetime = lock.lifetime.seconds
        self.wait = wait.seconds
        fencingToken = lock.fencingToken
    }
}

/// What `--json` prints: one line, keys sorted.
enum JSONLine {
    static func encode<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }
}

/// `rdlm show`'s description of a lock: one `name: value` line per field.
enum LockDescription {
    static func lines(_ details: LockDetails, now: Date = Date()) -> [String] {
        var rows: [(String, String)] = [
            ("url", details.url.absoluteString),
            ("resource", details.resource),
            ("state", details.isActive ? "held (\(details.mode.rawValue))" : "waiting (\(details.mode.rawValue))"),
        ]
        if let token = details.fencingToken { rows.append(("fencing token", String(token))) }
        rows.append(("title", details.title))
        rows.append(("lifetime", Seconds.text(details.lifetime)))
        if details.isActive {
            if let since = details.activeSince { rows.append(("since", Timestamp.iso(since))) }
            if let expires = details.activeExpires { rows.append(("expires", Timestamp.iso(expires) + " (\(Timestamp.relative(expires, now: now)))")) }
        } else {
            rows.append(("wait", Seconds.text(details.wait)))
            if let since = details.waitSince { rows.append(("waiting since", Timestamp.iso(since))) }
            if let expires = details.waitExpires { rows.append(("gives up", Timestamp.iso(expires) + " (\(Timestamp.relative(expires, now: now)))")) }
        }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { name, value in name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value }
    }
}

/// Dates as the server writes them, and as a person reads them.
enum Timestamp {
    /// `2026-11-26T18:29:07.746431Z`, the server's format.
    static func iso(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let micros = Int(((seconds - Double(whole)) * 1_000_000).rounded())
        if micros == 1_000_000 { whole += 1 }
        var parts = tm()
        gmtime_r(&whole, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros % 1_000_000)
    }

    /// `in 4m59s`, `12s ago`.
    static func relative(_ date: Date, now: Date) -> String {
        let interval = date.timeIntervalSince(now)
        let text = span(abs(interval))
        return interval >= 0 ? "in \(text)" : "\(text) ago"
    }

    /// `4m59s`, `1h02m`, `0.4s`.
    static func span(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3_600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3_600, whole % 3_600 / 60)
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
