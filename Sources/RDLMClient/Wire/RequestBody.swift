/// The JSON bodies this client sends, written by hand: they are tiny and sent on every
/// acquire, so they skip `JSONEncoder`.
enum RequestBody {
    /// `{"title": …, "lifetime": …, "wait": …}`, plus `"mode": "shared"` for shared locks
    /// (exclusive is the default, so the original server never sees an unknown field).
    static func acquire(title: String, lifetime: Duration, wait: Duration, mode: LockMode) -> [UInt8] {
        var json = "{\"title\": "
        appendString(title, to: &json)
        json += ", \"lifetime\": " + number(lifetime) + ", \"wait\": " + number(wait)
        if mode == .shared { json += ", \"mode\": \"shared\"" }
        json += "}"
        return Array(json.utf8)
    }

    /// `{"lifetime": …}`, the body of a refresh.
    static func refresh(lifetime: Duration) -> [UInt8] {
        Array("{\"lifetime\": \(number(lifetime))}".utf8)
    }

    /// Seconds, to the microsecond the server keeps: `300`, `0.25`.
    static func number(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let microseconds = seconds * 1_000_000 + (attoseconds + 500_000_000_000) / 1_000_000_000_000
        if microseconds % 1_000_000 == 0 { return String(microseconds / 1_000_000) }
        return String(Double(microseconds) / 1_000_000)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to json: inout String) {
        json += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}
