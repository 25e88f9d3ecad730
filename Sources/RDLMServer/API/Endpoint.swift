import Logging
import NIOCore
import NIOHTTP1
import RDLMCore
import RDLMWire
import Synchronization

/// Every request the daemon answers, once its path and method are known. The switch over
/// it in `LockAPI` is exhaustive, so a new endpoint cannot be forgotten there.
enum Endpoint: Equatable, Sendable {
    /// `GET /`: the original's welcome page.
    case home
    /// `GET /openapi.yaml` (and `HEAD`): this API's OpenAPI document (no credentials).
    case openAPIDocument
    /// `GET /health`: the process answers (no credentials, no lock data).
    case health
    /// `GET /ready`: 200 when it can serve locks, else 503; each check named (no
    /// credentials, no lock data).
    case ready
    /// `GET /metrics` (admin): Prometheus's text exposition.
    case metrics
    /// `GET /events[?resource=NAME]` (admin): Server-Sent Events, served by the connection.
    case events(resource: String?)
    /// `GET /ui` and its script and style sheet: the admin web page. The document follows
    /// the admin rule except when admin requests are disabled: it then loads and explains
    /// (the 403 comes from `/events`).
    case ui(AdminPage)
    /// `POST /locks/{resource}`
    case acquire(resource: String)
    /// `GET /locks/{resource}/{uid}`
    case show(resource: String, uid: Substring)
    /// `PATCH /locks/{resource}/{uid}`
    case refresh(resource: String, uid: Substring)
    /// `DELETE /locks/{resource}/{uid}`
    case release(resource: String, uid: Substring)
    /// `GET /resources` (admin)
    case resourceList
    /// `GET /resources/{resource}` (admin)
    case resource(String)
    /// `DELETE /resources/{resource}` (admin)
    case deleteResource(String)
    /// `DELETE /resources` (admin)
    case deleteAll

    /// The endpoint of `method` on `route`; another method gets 405 with the route's `Allow`.
    init(_ route: Route, method: HTTPMethod) throws(HTTPError) {
        switch (route, method) {
        case (.home, .GET): self = .home
        case (.openAPIDocument, .GET), (.openAPIDocument, .HEAD): self = .openAPIDocument
        case (.health, .GET): self = .health
        case (.ready, .GET): self = .ready
        case (.metrics, .GET): self = .metrics
        case (.events, .GET): self = .events(resource: nil)
        case (.ui(let page), .GET): self = .ui(page)
        case (.locks(let resource), .POST): self = .acquire(resource: resource)
        case (.lock(let resource, let uid), .GET): self = .show(resource: resource, uid: uid)
        case (.lock(let resource, let uid), .PATCH): self = .refresh(resource: resource, uid: uid)
        case (.lock(let resource, let uid), .DELETE): self = .release(resource: resource, uid: uid)
        case (.resources, .GET): self = .resourceList
        case (.resources, .DELETE): self = .deleteAll
        case (.resource(let resource), .GET): self = .resource(resource)
        case (.resource(let resource), .DELETE): self = .deleteResource(resource)
        default:
            let allow = route.allowedMethods.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.methodNotAllowed, "method \(method.rawValue) not allowed here", headers: [("Allow", allow)])
        }
    }

    var isAdmin: Bool {
        switch self {
        case .resourceList, .resource, .deleteResource, .deleteAll, .metrics, .events: return true
        case .home, .openAPIDocument, .health, .ready, .acquire, .show, .refresh, .release, .ui: return false
        }
    }

    /// The admin page's document asks for the admin credentials, so that the browser prompts
    /// for them, unless admin requests are disabled (then nobody has any to give; `Admission`
    /// checks that, only for this endpoint).
    var asksAdminCredentials: Bool {
        guard case .ui(let page) = self else { return false }
        return page.asksAdminCredentials
    }

    /// The `endpoint` label of `rdlm_request_duration_seconds`.
    enum MetricsLabel: String, CaseIterable, Sendable {
        case home, openapi, health, ready, metrics, events, ui, acquire, show, refresh, release
        case resourceList = "resource_list", resource, deleteResource = "delete_resource", deleteAll = "delete_all"
    }

    var metricsLabel: MetricsLabel {
        switch self {
        case .home: return .home
        case .openAPIDocument: return .openapi
        case .health: return .health
        case .ready: return .ready
        case .metrics: return .metrics
        case .events: return .events
        case .ui: return .ui
        case .acquire: return .acquire
        case .show: return .show
        case .refresh: return .refresh
        case .release: return .release
        case .resourceList: return .resourceList
        case .resource: return .resource
        case .deleteResource: return .deleteResource
        case .deleteAll: return .deleteAll
        }
    }

    /// The resource named in the path, if any.
    var resourceName: String? {
        switch self {
        case .acquire(let name), .show(let name, _), .refresh(let name, _), .release(let name, _),
             .resource(let name), .deleteResource(let name):
            return name
        case .home, .openAPIDocument, .health, .ready, .metrics, .events, .ui, .resourceList, .deleteAll:
            return nil
        }
    }
}

/// Deciding whether a request may proceed, before any lock is touched: the route exists
/// (404), takes this method (405), names a resource of acceptable length (400), comes with
/// an acceptable `Host` (400), and is authorised if admin (401/403).
final class Admission: Sendable {
    let configuration: ServerConfiguration
    let logger: Logger
    /// The admin credentials in force (the configuration's, until SIGHUP re-reads the
    /// file), their cache and the failures per peer.
    let logins: AdminLogins

    init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.logins = AdminLogins(configuration.adminAuthentication, logger: logger, failures: LoginFailures(limit: configuration.adminLoginFailures))
    }

    /// Puts `admin` in force for the requests admitted from now on.
    func replaceAdminAuthentication(_ admin: AdminAuthentication) {
        logins.replace(admin)
    }

    /// A request that passed admission.
    struct Admitted: Equatable {
        var endpoint: Endpoint
        /// The authority the client addressed: the target's for an absolute-form target,
        /// else the `Host` header's; nil when an HTTP/1.0 client sent neither.
        var authority: Substring?
        /// An acquire's `RDLM-Request-Id`: the client's own uid for the lock, so that a
        /// retry after a lost answer is the same request (see `LockService.acquire`).
        var requestID: LockID? = nil
    }

    /// What admission decided: most requests are decided at once; an admin request whose
    /// password needs a hash computed is decided by running its `AdminCheck`.
    enum Outcome {
        case admitted(Admitted)
        case checking(AdminCheck)
    }

    /// An admitted admin request whose credentials are still to be checked off the event
    /// loop.
    struct AdminCheck {
        let admitted: Admitted
        let pending: PendingCheck

        /// Runs the check (exactly once per `AdminCheck`); `decided` is then called on `loop`,
        /// once, with the request admitted or the error to answer it with.
        func run(on loop: any EventLoop, decided: @escaping (Result<Admitted, HTTPError>) -> Void) {
            let admitted = self.admitted
            pending.run(on: loop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(nil): decided(.success(admitted))
                case .success(let error?): decided(.failure(error))
                case .failure: decided(.failure(.shuttingDown))
                }
            }
        }
    }

    /// `admit(head, peer:certifiedAdmin:)`, unless `checked` is the decision of the
    /// request's `AdminCheck`.
    func admit(_ head: HTTPRequestHead, peer: String?, certifiedAdmin: Bool, checked: Result<Admitted, HTTPError>?) throws(HTTPError) -> Outcome {
        guard let checked else { return try admit(head, peer: peer, certifiedAdmin: certifiedAdmin) }
        return .admitted(try checked.get())
    }

    /// - Parameters:
    ///   - peer: the client's address, the key of the failed-login limit.
    ///   - certifiedAdmin: the connection's verified client certificate is an admin's
    ///     (`CertificateAdmins`): admin requests need no Basic credentials.
    func admit(_ head: HTTPRequestHead, peer: String? = nil, certifiedAdmin: Bool = false) throws(HTTPError) -> Outcome {
        let target = try RequestTarget(head.uri)
        // An absolute-form target's authority overrides Host (RFC 9112 §3.2.2), but Host
        // must still be well-formed.
        let host = try Self.host(of: head)
        let authority = target.authority ?? host
        guard let route = Route(path: target.path) else { throw HTTPError(.notFound, "not found") }
        var endpoint = try Endpoint(route, method: head.method)
        if case .events = endpoint { endpoint = .events(resource: try Self.resourceFilter(target.query)) }
        let limits = configuration.limits
        if let name = endpoint.resourceName, name.utf8.count > limits.maxResourceNameLength {
            throw HTTPError(.badRequest, "resource name is longer than \(limits.maxResourceNameLength) characters")
        }
        if endpoint.isAdmin || (endpoint.asksAdminCredentials && !logins.isDisabled), !certifiedAdmin, let pending = try logins.admit(authorization: head.headers.first(name: "authorization"), peer: peer) {
            return .checking(AdminCheck(admitted: Admitted(endpoint: endpoint, authority: authority), pending: pending))
        }
        var requestID: LockID?
        if case .acquire = endpoint { requestID = try Self.requestID(of: head) }
        return .admitted(Admitted(endpoint: endpoint, authority: authority, requestID: requestID))
    }

    static let requestIDHeader = "RDLM-Request-Id"

    /// `/events`'s query: nothing, or `resource=NAME` with a valid name.
    static func resourceFilter(_ query: Substring?) throws(HTTPError) -> String? {
        guard let query, !query.isEmpty else { return nil }
        guard query.hasPrefix("resource="), case let name = query.dropFirst("resource=".count), ResourceName.isValid(name) else {
            throw HTTPError(.badRequest, "the only query /events takes is resource=NAME, a resource name ([a-zA-Z0-9]+)")
        }
        return String(name)
    }

    /// `RDLM-Request-Id: <32 lowercase hex digits>`, at most once; nil when absent.
    static func requestID(of head: HTTPRequestHead) throws(HTTPError) -> LockID? {
        // `first(name:)` first: most acquires carry none, and it builds no array.
        guard let value = head.headers.first(name: requestIDHeader) else { return nil }
        guard head.headers[requestIDHeader].count == 1, let id = LockID(hex: value) else {
            throw HTTPError(.badRequest, "\(requestIDHeader) must be 32 lowercase hexadecimal digits, sent once")
        }
        return id
    }

    /// The `Host` header as RFC 9112 §3.2 asks: exactly one on HTTP/1.1 and valid
    /// wherever it is sent (it becomes part of `Location`, so a value such as
    /// `evil.example/phish?` or `a@evil.example` must never be echoed).
    private static func host(of head: HTTPRequestHead) throws(HTTPError) -> Substring? {
        var found: Substring?
        var count = 0
        for (name, value) in head.headers where Self.isHostField(name) {
            count += 1
            found = Substring(value)
        }
        let isHTTP11 = head.version.major == 1 && head.version.minor >= 1
        if count > 1 { throw HTTPError(.badRequest, "more than one Host header") }
        guard let found else {
            if isHTTP11 { throw HTTPError(.badRequest, "HTTP/1.1 request without a Host header") }
            return nil
        }
        guard HostSyntax.isValid(found) else {
            throw HTTPError(.badRequest, "invalid Host header (expected host or host:port)")
        }
        return found
    }

    /// `Host` in any case, compared without allocating (this runs for every header of
    /// every request).
    private static func isHostField(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard utf8.count == 4 else { return false }
        return zip(utf8, "host".utf8).allSatisfy { $0 | 0x20 == $1 }
    }
}

/// A request target in origin form (`/locks/x?y`) or absolute form
/// (`http://host:port/locks/x`, RFC 9112 §3.2.2, which servers must accept; its authority
/// then overrides `Host`).
struct RequestTarget {
    var path: Substring
    var authority: Substring?
    /// What follows `?`, without a fragment; nil when there is no `?`.
    var query: Substring?

    init(_ uri: String) throws(HTTPError) {
        var rest = Substring(uri)
        if let queryStart = rest.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            if rest.utf8[queryStart] == UInt8(ascii: "?") {
                let afterMark = rest[rest.utf8.index(after: queryStart)...]
                query = afterMark.utf8.firstIndex(of: UInt8(ascii: "#")).map { afterMark[..<$0] } ?? afterMark
            }
            rest = rest[..<queryStart]
        }
        guard rest.utf8.first != UInt8(ascii: "/") else {
            path = rest
            authority = nil
            return
        }
        let afterScheme: Substring
        if let scheme = ["http://", "https://"].first(where: { rest.lowercased().hasPrefix($0) }) {
            afterScheme = rest.dropFirst(scheme.utf8.count)
        } else {
            throw HTTPError(.notFound, "not found")
        }
        let pathStart = afterScheme.utf8.firstIndex(of: UInt8(ascii: "/")) ?? afterScheme.endIndex
        let host = afterScheme[..<pathStart]
        guard HostSyntax.isValid(host) else {
            throw HTTPError(.badRequest, "invalid authority in the request target")
        }
        authority = host
        path = pathStart == afterScheme.endIndex ? "/" : afterScheme[pathStart...]
    }
}

/// RFC 3986's `host [ ":" port ]` with a non-empty host (an `http` URI has one), where host
/// is an IP literal in brackets or a registered name of unreserved, percent-encoded and
/// sub-delimiter characters. Anything that could end the authority (`/ ? # @`) or a
/// header value is refused.
enum HostSyntax {
    static func isValid(_ text: Substring) -> Bool {
        let utf8 = text.utf8
        guard !utf8.isEmpty else { return false }
        var hostEnd = utf8.endIndex
        if utf8.first == UInt8(ascii: "[") {
            guard let close = utf8.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = utf8[utf8.index(after: utf8.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy(isIPLiteralByte) else { return false }
            hostEnd = utf8.index(after: close)
            guard hostEnd == utf8.endIndex || utf8[hostEnd] == UInt8(ascii: ":") else { return false }
        } else {
            hostEnd = utf8.lastIndex(of: UInt8(ascii: ":")) ?? utf8.endIndex
            let name = utf8[..<hostEnd]
            guard !name.isEmpty, name.allSatisfy(isRegisteredNameByte) else { return false }
        }
        guard hostEnd != utf8.endIndex else { return true }
        let port = utf8[utf8.index(after: hostEnd)...]
        return port.count <= 5 && port.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static func isRegisteredNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    private static func isIPLiteralByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"),
             UInt8(ascii: ":"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}

/// `--public-url`: a base for `Location` that a proxy in front of the daemon serves.
public enum PublicURL {
    /// The base without a trailing slash, or nil when it is not an absolute http(s) URL
    /// with a valid host (and optional path), free of query and fragment.
    public static func normalized(_ text: String) -> String? {
        let lower = text.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else { return nil }
        let rest = text.dropFirst(scheme.utf8.count)
        guard !rest.contains("?"), !rest.contains("#"), !rest.contains(" ") else { return nil }
        let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
        guard HostSyntax.isValid(rest[..<pathStart]) else { return nil }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
