import NIOCore
import NIOHTTP1

/// A complete answer, before it is framed for the wire.
struct Response {
    var status: HTTPResponseStatus
    var headers: [(String, String)] = []
    var body: String = ""
    var contentType: String?
    /// Close the connection after this answer, whatever the client asked.
    var closesConnection = false
    /// The lock a 201 grants, released by the connection if the answer cannot be delivered.
    var grant: GrantedLock?
    /// The head of a stream whose body runs until the connection closes: no `Content-Length`.
    var isStream = false

    /// `GET /events`'s head; the events follow (see `EventSubscription`).
    static let eventStream = Response(
        status: .ok, headers: [("Cache-Control", "no-store"), ("X-Accel-Buffering", "no")],
        contentType: "text/event-stream; charset=utf-8", closesConnection: true, isStream: true)

    static func html(_ status: HTTPResponseStatus, message: String, headers: [(String, String)] = []) -> Response {
        let text = "\(status.code): \(escapeHTML(message))"
        return Response(
            status: status, headers: headers,
            body: "<html><title>\(text)</title><body>\(text)</body></html>",
            contentType: "text/html; charset=UTF-8")
    }

    static func hal(_ json: String, status: HTTPResponseStatus = .ok, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: headers, body: json, contentType: "application/hal+json")
    }

    static func noContent() -> Response {
        Response(status: .noContent)
    }

    /// An error as the client prefers it: JSON for `Accept: application/json`, else the
    /// original's small HTML page.
    static func error(_ error: HTTPError, json: Bool) -> Response {
        guard json else { return .html(error.status, message: error.message, headers: error.headers) }
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("error", error.message)
        writer.field("status", Int(error.status.code))
        writer.endObject()
        return Response(status: error.status, headers: error.headers, body: writer.text, contentType: "application/json")
    }

    private static func escapeHTML(_ text: String) -> String {
        let needsEscaping = text.utf8.contains { byte in
            byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "\"")
        }
        guard needsEscaping else { return text }
        var escaped = ""
        for character in text {
            switch character {
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "&": escaped += "&amp;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

extension Response {
    /// The answer as HTTP/1.x bytes: status line, headers, `Content-Length` (none on 1xx and
    /// 204, as RFC 9110 requires), `Connection` when it differs from the version's default,
    /// then the body unless it is the answer to a HEAD request.
    ///
    /// Header values are the daemon's own, except the `Host` a client sent, echoed in
    /// `Location`; NIO's parser does not let CR or LF into a header value, so it cannot
    /// split the answer.
    ///
    /// - Parameter date: the `Date` header's value (see `DateHeader`), sent on every final
    ///   answer.
    func encode(into buffer: inout ByteBuffer, version: HTTPVersion, keepAlive: Bool, includeBody: Bool, date: String?) {
        let isHTTP10 = version.major == 1 && version.minor == 0
        buffer.writeStaticString(isHTTP10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        let code = status.code
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code / 100 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in headers {
            Self.writeHeader(name, value, into: &buffer)
        }
        if let contentType {
            Self.writeHeader("Content-Type", contentType, into: &buffer)
        }
        let isInformational = code < 200
        if !isInformational && code != 204 && !isStream {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeString(String(body.utf8.count))
            buffer.writeStaticString("\r\n")
        }
        if !isInformational {
            if let date {
                Self.writeHeader("Date", date, into: &buffer)
            }
            if !keepAlive {
                buffer.writeStaticString("Connection: close\r\n")
            } else if isHTTP10 {
                buffer.writeStaticString("Connection: keep-alive\r\n")
            }
        }
        buffer.writeStaticString("\r\n")
        if includeBody {
            buffer.writeString(body)
        }
    }

    private static func writeHeader(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }
}
