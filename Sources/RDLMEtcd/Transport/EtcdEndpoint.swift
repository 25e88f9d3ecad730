/// A member's client URL, `http://host:port` (no TLS: the gateway is spoken in the clear).
struct EtcdEndpoint: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    /// nil when `url` is not `http://host[:port][/]`.
    init?(_ url: String) {
        var rest = Substring(url)
        if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { return nil }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {  // [IPv6]:port
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            guard let port = after.isEmpty ? 2379 : Int(after.dropFirst()) else { return nil }
            self.port = port
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let port = Int(rest[rest.index(after: colon)...]) else { return nil }
            self.port = port
        } else {
            host = String(rest)
            port = 2379
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
