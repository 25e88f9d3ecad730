import NIOHTTP1

/// A complete answer, before it is framed for the wire.
struct Response {
    var status: HTTPResponseStatus
    var headers: [(String, String)] = []
    var body: String = ""
    var contentType: String?
    /// Close the connection after this answer, whatever the client asked.
    var closesConnection = false

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
