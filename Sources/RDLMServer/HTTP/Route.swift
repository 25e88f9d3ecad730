import NIOHTTP1
import RDLMCore
import RDLMWire

/// The URL space of the original RDLM, plus the probes of operations (`/health`,
/// `/ready`, `/metrics`), of watching (`/events` and the admin page `/ui`) and the API's
/// own description (`/openapi.yaml`): everything else is 404.
enum Route: Equatable {
    case home
    /// `/openapi.yaml`: the OpenAPI document of this API.
    case openAPIDocument
    /// `/health`: liveness, for systemd, a load balancer or Kubernetes.
    case health
    /// `/ready`: readiness, with the state of each thing serving depends on.
    case ready
    /// `/metrics`: Prometheus's text exposition, under the admin rule.
    case metrics
    /// `/events`: the live feed of changes (Server-Sent Events), under the admin rule.
    case events
    /// `/ui` and its script and style files: the admin web page (see `AdminPage`).
    case ui(AdminPage)
    case resources
    case resource(String)
    case locks(resource: String)
    /// `uid` is kept as text: an id that is not 32 hex characters simply names no lock.
    case lock(resource: String, uid: Substring)

    /// Matches a request path (query string already removed) as the original's routing
    /// did: names are `[a-zA-Z0-9]+`, and nothing else matches.
    init?(path: Substring) {
        // Scans bytes rather than splitting into Characters: routing runs on every request,
        // and the split version was a measurable share of the daemon's CPU
        // (docs/benchmarks.md, Profile).
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { return nil }
        var start = utf8.index(after: utf8.startIndex)
        if start == utf8.endIndex {
            self = .home
            return
        }
        // The one name outside `[a-zA-Z0-9]+`; the length test keeps the compare off the
        // path of every other request.
        if utf8.count == OpenAPIDocument.path.utf8.count, path == OpenAPIDocument.path {
            self = .openAPIDocument
            return
        }
        if let page = AdminPage(path: path) {
            self = .ui(page)
            return
        }
        var names: [Substring] = []
        names.reserveCapacity(3)
        while true {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
            let name = path[start..<end]
            guard names.count < 3, ResourceName.isValid(name) else { return nil }
            names.append(name)
            if end == utf8.endIndex { break }
            start = utf8.index(after: end)
        }
        switch (names.count, names[0]) {
        case (1, "resources"): self = .resources
        case (1, "health"): self = .health
        case (1, "ready"): self = .ready
        case (1, "metrics"): self = .metrics
        case (1, "events"): self = .events
        case (2, "resources"): self = .resource(String(names[1]))
        case (2, "locks"): self = .locks(resource: String(names[1]))
        case (3, "locks"): self = .lock(resource: String(names[1]), uid: names[2])
        default: return nil
        }
    }

    /// The methods each route answers; another gets 405 with this list in `Allow`. The
    /// lists are built once: checked on every request, a fresh array each time was a
    /// measurable share of routing.
    var allowedMethods: [HTTPMethod] {
        switch self {
        case .home, .health, .ready, .metrics, .events, .ui: return Self.getOnly
        case .openAPIDocument: return Self.getOrHead
        case .resources, .resource: return Self.getOrDelete
        case .locks: return Self.postOnly
        case .lock: return Self.lockMethods
        }
    }

    private static let getOnly: [HTTPMethod] = [.GET]
    private static let getOrHead: [HTTPMethod] = [.GET, .HEAD]
    private static let getOrDelete: [HTTPMethod] = [.GET, .DELETE]
    private static let postOnly: [HTTPMethod] = [.POST]
    private static let lockMethods: [HTTPMethod] = [.GET, .DELETE, .PATCH]

    var isAdmin: Bool {
        switch self {
        case .resources, .resource, .metrics, .events: return true
        case .home, .openAPIDocument, .health, .ready, .locks, .lock, .ui: return false
        }
    }

    /// The resource name in the path, if the route has one.
    var resourceName: String? {
        switch self {
        case .resource(let name), .locks(let name), .lock(let name, _): return name
        case .home, .openAPIDocument, .health, .ready, .metrics, .events, .ui, .resources: return nil
        }
    }
}
