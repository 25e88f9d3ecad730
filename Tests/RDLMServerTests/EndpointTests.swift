import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RDLMCore
import Synchronization
import Testing
@testable import RDLMServer

@Suite("Endpoints and the lock API, without a connection")
struct EndpointTests {
    @Test("every route and method names one endpoint", arguments: [
        ("/", HTTPMethod.GET, Endpoint.home),
        ("/openapi.yaml", .GET, .openAPIDocument),
        ("/openapi.yaml", .HEAD, .openAPIDocument),
        ("/health", .GET, .health),
        ("/ready", .GET, .ready),
        ("/locks/a", .POST, .acquire(resource: "a")),
        ("/locks/a/00ff", .GET, .show(resource: "a", uid: "00ff")),
        ("/locks/a/00ff", .PATCH, .refresh(resource: "a", uid: "00ff")),
        ("/locks/a/00ff", .DELETE, .release(resource: "a", uid: "00ff")),
        ("/resources", .GET, .resourceList),
        ("/resources", .DELETE, .deleteAll),
        ("/resources/a", .GET, .resource("a")),
        ("/resources/a", .DELETE, .deleteResource("a")),
    ])
    func endpoints(path: String, method: HTTPMethod, expected: Endpoint) throws {
        let route = try #require(Route(path: Substring(path)))
        #expect(try Endpoint(route, method: method) == expected)
    }

    @Test("another method is 405 with the route's Allow list")
    func methodNotAllowed() throws {
        let route = try #require(Route(path: "/locks/a/00ff"))
        do {
            _ = try Endpoint(route, method: .POST)
            Issue.record("POST on a lock URL was accepted")
        } catch {
            #expect(error.status == .methodNotAllowed)
            #expect(error.headers.first { $0.0 == "Allow" }?.1 == "GET, DELETE, PATCH")
        }
    }

    @Test("each refusal names the limit it hit; a client over its quota gets 429", arguments: [
        (AcquireRefusal.tooManyWaiters(limit: 7), 503, "too many waiters on this resource (limit 7)"),
        (.tableFull(limit: 9), 503, "server is full (limit 9 locks)"),
        (.tooManyForClient(limit: 3), 429, "already holds or waits for 3 locks"),
        (.duplicateID, 503, "lock id collision"),
    ])
    func refusals(refusal: AcquireRefusal, status: Int, message: String) {
        do {
            _ = try LockAPI.acquired(.refused(refusal), locationBase: "http://x", json: false)
            Issue.record("a refusal was answered 201")
        } catch {
            #expect(Int(error.status.code) == status)
            #expect(error.message.contains(message))
        }
    }

    @Test("a uid collision is 503 (retry) for a random uid, 409 for the client's own RDLM-Request-Id")
    func collision() {
        for (named, status) in [(false, HTTPResponseStatus.serviceUnavailable), (true, .conflict)] {
            do {
                _ = try LockAPI.acquired(.refused(.duplicateID), locationBase: "http://x", json: false, namedByClient: named)
                Issue.record("a collision was answered 201")
            } catch {
                #expect(error.status == status, "named by the client: \(named)")
            }
        }
    }

    @Test("a 201 carries its grant and a Location under the given base")
    func granted() throws {
        let lock = LockInfo(id: LockID.random(), resource: "a", request: LockRequest(title: "t", lifetime: .seconds(5), wait: .zero),
                            state: .active(since: .now, expires: .now + .seconds(5), token: 42))
        let response = try LockAPI.acquired(.granted(lock), locationBase: "https://proxy/base", json: false)
        #expect(response.status == .created)
        #expect(response.grant == GrantedLock(id: lock.id, resource: "a"))
        #expect(response.headers.contains { $0 == ("Location", "https://proxy/base/locks/a/\(lock.id)") })
        #expect(response.headers.contains { $0 == ("RDLM-Fencing-Token", "42") })
    }

    @Test("--public-url must be an absolute http(s) URL; a trailing slash is dropped", arguments: [
        ("https://locks.example.com", "https://locks.example.com"), ("http://10.0.0.1:8080/rdlm/", "http://10.0.0.1:8080/rdlm"),
        ("HTTPS://[::1]:443", "HTTPS://[::1]:443"),
    ])
    func publicURL(text: String, base: String) {
        #expect(PublicURL.normalized(text) == base)
    }

    @Test("a --public-url that cannot be a base is refused", arguments: [
        "locks.example.com", "ftp://x", "https://", "https://a@b", "https://a/b?c", "https://a/#b", "https://a b",
    ])
    func badPublicURL(text: String) {
        #expect(PublicURL.normalized(text) == nil)
    }

    @Test("failed admin logins are logged, at most one line per ten seconds")
    func failedLoginsLogged() {
        let lines = CapturedLines()
        let logger = Logger(label: "test") { _ in CapturingHandler(lines: lines) }
        var configuration = ServerConfiguration()
        configuration.adminAuthentication = .basic(credentials: ["admin:secret"])
        let admission = Admission(configuration: configuration, logger: logger)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/resources")
        head.headers.add(name: "Host", value: "x")
        head.headers.add(name: "Authorization", value: "Basic YWRtaW46d3Jvbmc=")
        for _ in 0..<100 {
            #expect(throws: HTTPError.self) { try admission.admit(head) }
        }
        #expect(lines.value.count == 1)
        #expect(lines.value.first?.contains("failed admin login: wrong admin credentials") == true)
    }

    @Test("a backend that cannot decide is answered 503 with its reason, on every endpoint")
    func unavailableBackend() {
        let loop = EmbeddedEventLoop()
        let api = LockAPI(service: UndecidedService(), limits: RequestLimits(), metrics: ServerMetrics(backend: "test"), events: LockEventHub(settings: EventStreamSettings(), loop: loop), connections: { 0 }, logger: Logger(label: "test"))
        let uid = Substring(String(repeating: "0", count: 32))
        let endpoints: [Endpoint] = [
            .acquire(resource: "a"), .show(resource: "a", uid: uid), .refresh(resource: "a", uid: uid),
            .release(resource: "a", uid: uid), .resourceList, .resource("a"), .deleteResource("a"), .deleteAll,
        ]
        for endpoint in endpoints {
            let body = Array(#"{"title": "t", "lifetime": 1, "wait": 0}"#.utf8)
            var answer: Response?
            api.respond(to: APIRequest(endpoint: endpoint, body: body, wantsJSON: true, locationBase: "http://x", client: nil), eventLoop: loop) { answer = $0 }
            loop.run()
            #expect(answer?.status == .serviceUnavailable, "\(endpoint)")
            #expect(answer?.body.contains("lock service unavailable: no quorum") == true, "\(endpoint)")
        }
    }
}

/// A backend that can decide nothing, as an etcd-backed one without a quorum.
struct UndecidedService: LockService {
    private func undecided<T>(_ loop: any EventLoop) -> EventLoopFuture<T> {
        loop.makeFailedFuture(LockServiceUnavailable("no quorum"))
    }

    func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome> { undecided(eventLoop) }
    func abandon(_ id: LockID, on resource: String) {}
    func release(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> { undecided(eventLoop) }
    func refresh(_ id: LockID, on resource: String, lifetime: Duration?, eventLoop: any EventLoop) -> EventLoopFuture<LockTable.RefreshResult> { undecided(eventLoop) }
    func lock(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<LockInfo?> { undecided(eventLoop) }
    func resourceNames(eventLoop: any EventLoop) -> EventLoopFuture<[String]> { undecided(eventLoop) }
    func locks(on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<[LockInfo]> { undecided(eventLoop) }
    func deleteResource(_ resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> { undecided(eventLoop) }
    func deleteAll(eventLoop: any EventLoop) -> EventLoopFuture<Void> { undecided(eventLoop) }
    func readiness(eventLoop: any EventLoop) -> EventLoopFuture<[ReadinessCheck]> {
        eventLoop.makeSucceededFuture([.init("accepting", ok: true, "accepting requests"), .init("store", ok: false, "no quorum")])
    }
    func metricsLevels() -> ServerMetrics.Levels { ServerMetrics.Levels(held: 0, waiting: 0, resources: 0) }
    func shutdown() {}
}

final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])
    var value: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

/// Keeps every line logged through it, for tests about logging.
struct CapturingHandler: LogHandler {
    let lines: CapturedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lines.append("\(event.message)")
    }
}
