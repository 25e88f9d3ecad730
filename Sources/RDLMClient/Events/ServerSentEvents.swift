/// One message of a `text/event-stream`, as the WHATWG HTML standard's parser dispatches
/// it.
struct ServerSentEvent: Sendable, Equatable {
    /// The `event` field; `message` when the message gave none.
    var type: String
    /// The `data` lines joined with line feeds.
    var data: String
    /// The last event ID after this message: its own `id` field, or the one an earlier
    /// message set (a message without an id keeps it).
    var lastEventID: String
}

/// The parser of a `text/event-stream` (WHATWG HTML, "Server-sent events", "Interpreting
/// an event stream"): lines end with CRLF, LF or CR, even split across pieces; a line
/// starting with a colon is a comment; `field: value` loses one space after the colon; a
/// field without a colon has an empty value; a blank line dispatches the message; `id`
/// with a NUL is ignored; `retry` counts only when all digits; a leading BOM is dropped;
/// unknown fields are ignored.
struct ServerSentEventParser: Sendable {
    /// The reconnection time the stream asked for (`retry:`), in milliseconds.
    private(set) var retryMilliseconds: Int?
    /// The last event ID buffer, which a reconnection sends as `Last-Event-ID`.
    private(set) var lastEventID: String

    private var line: [UInt8] = []
    /// The last byte was a CR: an LF right after it ends no second line.
    private var afterCR = false
    private var atStart = true
    private var eventType = ""
    private var data = ""
    private var hasData = false

    init(lastEventID: String = "") {
        self.lastEventID = lastEventID
    }

    /// The messages that `bytes`, the next piece of the stream, completes.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0D:
                afterCR = true
                if let event = endLine() { events.append(event) }
            case 0x0A:
                if let event = endLine() { events.append(event) }
            default:
                line.append(byte)
            }
        }
        return events
    }

    /// Interprets the line collected so far; a blank line may dispatch a message.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if atStart {
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        }
        guard !line.isEmpty else { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let name: String
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = String(decoding: line[..<colon], as: UTF8.self)
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = String(decoding: line, as: UTF8.self)
            value = []
        }
        switch name {
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "data":
            if hasData { data += "\n" }
            data += String(decoding: value, as: UTF8.self)
            hasData = true
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
               let milliseconds = Int(String(decoding: value, as: UTF8.self)) {
                retryMilliseconds = milliseconds
            }
        default:
            break
        }
        return nil
    }

    /// A blank line: the message collected, if it had data; the buffers start afresh.
    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            eventType = ""
            data = ""
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(type: eventType.isEmpty ? "message" : eventType, data: data, lastEventID: lastEventID)
    }
}
