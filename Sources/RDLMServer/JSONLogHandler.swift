import Glibc
import Logging
import RDLMWire
import Synchronization

/// `--log-format json`: one JSON object per line on standard error, for log shippers
/// (journald, Vector, Fluent Bit, Loki):
/// `{"label":"rdlmd","level":"info","message":"…","metadata":{…},"source":"RDLMServer","time":"2026-12-04T01:09:00.123Z"}`
/// (members sorted by name, as `JSONValue.serialized` writes them).
/// Every line is one `write(2)` under a lock, so lines from several threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    private static let standardErrorLock = Mutex(())

    public static func standardError(label: String) -> JSONLogHandler {
        JSONLogHandler(label: label) { line in
            standardErrorLock.withLock { _ in
                var bytes = Array(line.utf8)
                bytes.append(UInt8(ascii: "\n"))
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit { merged.merge(explicit) { $1 } }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        write(Self.line(time: now, level: level, label: label, source: source, message: "\(message)", metadata: merged))
    }

    static func line(time: timespec, level: Logger.Level, label: String, source: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: JSONValue] = [
            "time": .string(timestamp(time)), "level": .string(level.rawValue), "label": .string(label),
            "source": .string(source), "message": .string(message),
        ]
        if !metadata.isEmpty { object["metadata"] = json(.dictionary(metadata)) }
        return JSONValue.object(object).serialized
    }

    /// RFC 3339 in UTC, to the millisecond.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return "\(digits(parts.tm_year + 1900, 4))-\(digits(parts.tm_mon + 1, 2))-\(digits(parts.tm_mday, 2))T"
            + "\(digits(parts.tm_hour, 2)):\(digits(parts.tm_min, 2)):\(digits(parts.tm_sec, 2)).\(digits(Int32(time.tv_nsec / 1_000_000), 3))Z"
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let entries): return .object(entries.mapValues(json))
        }
    }
}
