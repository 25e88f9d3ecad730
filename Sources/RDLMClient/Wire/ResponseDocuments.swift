import Foundation

/// A HAL link, `{"href": "/locks/foo/…"}`.
struct LinkDocument: Decodable {
    var href: String
}

/// One lock as the server writes it (`GET` on a lock, and each lock of a resource).
struct LockDocument: Decodable {
    struct Links: Decodable {
        var selfLink: LinkDocument?
        enum CodingKeys: String, CodingKey { case selfLink = "self" }
    }

    var uid: String
    var title: String
    var lifetime: Double
    var wait: Double
    var mode: String?
    var active: Bool
    var activeSince: String?
    var activeExpires: String?
    var waitSince: String?
    var waitExpires: String?
    var fencingToken: UInt64?
    var links: Links?

    enum CodingKeys: String, CodingKey {
        case uid, title, lifetime, wait, mode, active
        case activeSince = "active_since"
        case activeExpires = "active_expires"
        case waitSince = "wait_since"
        case waitExpires = "wait_expires"
        case fencingToken = "fencing_token"
        case links = "_links"
    }

    /// The public description. `resource` is the name the request was about; `fallbackURL`
    /// is used when the document carries no self link.
    func details(resource: String, baseURL: String, fallbackURL: URL?) -> LockDetails? {
        let url = links?.selfLink.flatMap { URL(string: baseURL + $0.href) } ?? fallbackURL
        guard let url else { return nil }
        return LockDetails(
            url: url, resource: resource, uid: uid, title: title,
            lifetime: .seconds(lifetime), wait: .seconds(wait),
            mode: mode.flatMap(LockMode.init(rawValue:)) ?? .exclusive,
            isActive: active,
            activeSince: activeSince.flatMap(ServerTimestamp.parse),
            activeExpires: activeExpires.flatMap(ServerTimestamp.parse),
            waitSince: waitSince.flatMap(ServerTimestamp.parse),
            waitExpires: waitExpires.flatMap(ServerTimestamp.parse),
            fencingToken: fencingToken)
    }
}

/// `GET /resources/{name}`.
struct ResourceDocument: Decodable {
    struct Embedded: Decodable {
        var locks: [LockDocument]?
    }

    var name: String
    var embedded: Embedded?

    enum CodingKeys: String, CodingKey {
        case name
        case embedded = "_embedded"
    }
}

/// `GET /resources`.
struct ResourcesDocument: Decodable {
    struct Resource: Decodable {
        var name: String
    }

    struct Embedded: Decodable {
        var resources: [Resource]?
    }

    var embedded: Embedded?

    enum CodingKeys: String, CodingKey {
        case embedded = "_embedded"
    }
}

/// `{"error": "…", "status": 400}`, for clients that send `Accept: application/json`.
struct ErrorDocument: Decodable {
    var error: String
}

enum ResponseBody {
    static func decode<Document: Decodable>(_ type: Document.Type, from response: HTTPResponse, request: HTTPRequest) throws(RDLMError) -> Document {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            throw .unexpectedResponse("the body is not the expected JSON (\(error)): \(text)", status: response.status, request: request.summary)
        }
    }

    /// The server's explanation of an error: the `error` field of a JSON error, or the
    /// title of the original's HTML error page, or the start of whatever else came.
    static func errorMessage(of response: HTTPResponse) -> String? {
        guard !response.body.isEmpty else { return nil }
        if let document = try? JSONDecoder().decode(ErrorDocument.self, from: Data(response.body)) {
            return document.error
        }
        let text = String(decoding: response.body.prefix(1_000), as: UTF8.self)
        if let start = text.range(of: "<title>"), let end = text.range(of: "</title>", range: start.upperBound..<text.endIndex) {
            return String(text[start.upperBound..<end.lowerBound])
        }
        return String(text.prefix(200))
    }
}

/// The server's timestamps, `2013-01-22T23:01:16.771799` with an optional `Z`, in UTC.
enum ServerTimestamp {
    static func parse(_ text: String) -> Date? {
        let characters = Array(text.utf8)
        guard characters.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(characters[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let wholeSeconds = timegm(&parts)
        var fraction = 0.0
        if characters.count > 20, characters[19] == UInt8(ascii: ".") {
            var scale = 0.1
            for character in characters[20...] {
                let digit = Int(character) - 48
                guard (0...9).contains(digit) else { break }
                fraction += Double(digit) * scale
                scale /= 10
            }
        }
        return Date(timeIntervalSince1970: Double(wholeSeconds) + fraction)
    }
}
