import NIOHTTP1
import RDLMCore

/// The URL space of the original RDLM, plus nothing: everything else is 404.
enum Route: Equatable {
    case home
    case resources
    case resource(String)
    case locks(resource: String)
    /// `uid` is kept as text: an id that is not 32 hex characters simply names no lock.
    case lock(resource: String, uid: Substring)

    /// Matches a request path (query string already removed) as the original's routing
    /// did: names are `[a-zA-Z0-9]+`, and nothing else matches.
    init?(path: Substring) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        // A path starts with "/", so the first segment is empty.
        guard segments.count >= 2, segments[0].isEmpty else { return nil }
        let parts = Array(segments.dropFirst())
        if parts == [""] {
            self = .home
            return
        }
        guard parts.allSatisfy({ Route.isName($0) }) else { return nil }
        switch (parts.count, parts[0]) {
        case (1, "resources"): self = .resources
        case (2, "resources"): self = .resource(String(parts[1]))
        case (2, "locks"): self = .locks(resource: String(parts[1]))
        case (3, "locks"): self = .lock(resource: String(parts[1]), uid: parts[2])
        default: return nil
        }
    }

    static func isName(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
    }

    /// The methods each route answers; another gets 405 with this list in `Allow`.
    var allowedMethods: [HTTPMethod] {
        switch self {
        case .home: return [.GET]
        case .resources, .resource: return [.GET, .DELETE]
        case .locks: return [.POST]
        case .lock: return [.GET, .DELETE, .PATCH]
        }
    }

    var isAdmin: Bool {
        switch self {
        case .resources, .resource: return true
        case .home, .locks, .lock: return false
        }
    }

    /// The resource name in the path, if the route has one.
    var resourceName: String? {
        switch self {
        case .resource(let name), .locks(let name), .lock(let name, _): return name
        case .home, .resources: return nil
        }
    }
}
