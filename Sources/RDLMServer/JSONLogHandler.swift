import Glibc
import Logging
import RDLMWire
import Synchronization

/// `--log-format json`: one JSON object per line on standard error, for log shippers
/// (journald, Vector, Fluent Bit, Loki):
/// `{"label":"rdlmd","level":"info","message":"…","metadata":{…},"source":"RDLMServer","time":"2026-12-04T01:09:00.123Z"}`
/// (members sorted by name, as `JSONValue.serialized` writes them).
/// Every line is written whole under a lock, so lines from several threads never interleave.
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
                // A log line that cannot be written has nowhere to be reported.
                try? DataFile.writeAll(2, Array((line + "\n").utf8)[...], path: "standard error")
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

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        write(Self.line(time: now, level: event.level, label: label, source: event.source, message: "\(event.message)", metadata: merged))
    }

    static func line(time: timespec, level: Logger.Level, label: String, source: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: JSONValue] = [
            "time": .string(WallClock.timestamp(wallNanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec), fractionDigits: 3)), "level": .string(level.rawValue), "label": .string(label),
            "source": .string(source), "message": .string(message),
        ]
        if !metadata.isEmpty { object["metadata"] = json(.dictionary(metadata)) }
        return JSONValue.object(object).serialized
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
