import RDLMWire

/// The JSON bodies this client sends, written by hand: they are tiny and sent on every
/// acquire, so they skip `JSONEncoder`.
enum RequestBody {
    /// `{"title": …, "lifetime": …, "wait": …}`, plus `"mode": "shared"` for shared locks
    /// (exclusive is the default, so the original server never sees an unknown field).
    static func acquire(title: String, lifetime: Duration, wait: Duration, mode: LockMode) -> [UInt8] {
        var json = "{\"title\": "
        JSONString.append(title, to: &json)
        json += ", \"lifetime\": " + WireSeconds.format(lifetime) + ", \"wait\": " + WireSeconds.format(wait)
        if mode == .shared { json += ", \"mode\": \"shared\"" }
        json += "}"
        return Array(json.utf8)
    }

    /// `{"lifetime": …}`, the body of a refresh.
    static func refresh(lifetime: Duration) -> [UInt8] {
        Array("{\"lifetime\": \(WireSeconds.format(lifetime))}".utf8)
    }
}
