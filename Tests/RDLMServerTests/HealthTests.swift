import Foundation
import Logging
import RDLMCore
import NIOEmbedded
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// `GET /health` and `GET /ready`, for systemd, load balancers and Kubernetes.
    @Suite("Health and readiness")
    struct Health {
        @Test("/health and /ready need no credentials in any admin mode and show no lock data", arguments: [
            AdminAuthentication.open, .forbidden, .basic(credentials: ["admin:secret"]),
        ])
        func noCredentials(admin: AdminAuthentication) async throws {
            try await withServer(.test(admin: admin)) { server in
                _ = try await server.acquireLock("secretresource", title: "secret title")
                let health = try await server.request(.GET, "/health")
                #expect(health.status == 200)
                #expect(health.header("Content-Type") == "application/json")
                #expect(try health.json()["alive"] as? Bool == true)
                let ready = try await server.request(.GET, "/ready")
                #expect(ready.status == 200)
                #expect(ready.header("Cache-Control") == "no-store")
                let body = try ready.json()
                #expect(body["ready"] as? Bool == true)
                let checks = try #require(body["checks"] as? [[String: Any]])
                #expect(checks.map { $0["name"] as? String } == ["accepting"])
                #expect(checks.allSatisfy { $0["ok"] as? Bool == true && !(($0["detail"] as? String) ?? "").isEmpty })
                for answer in [health, ready] {
                    #expect(!answer.body.contains("secret"))
                }
            }
        }

        @Test("/health and /ready answer GET only")
        func methods() async throws {
            try await withServer { server in
                for path in ["/health", "/ready"] {
                    let answer = try await server.request(.POST, path)
                    #expect(answer.status == 405)
                    #expect(answer.header("Allow") == "GET")
                }
                #expect(try await server.request(.GET, "/health/x").status == 404)
            }
        }

        @Test("with --data-dir, /ready checks the journal, and is 503 once its directory cannot take files")
        func journal() async throws {
            try await withDataDirectory { directory in
                try await withServer(.persistent(directory)) { server in
                    let ready = try await server.request(.GET, "/ready")
                    #expect(ready.status == 200)
                    let checks = try #require(try ready.json()["checks"] as? [[String: Any]])
                    #expect(checks.map { $0["name"] as? String } == ["accepting", "journal"])
                    #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
                    // Gone from under the daemon, as a volume unmounted: root may write anywhere,
                    // so removing it is the failure a test can make.
                    try FileManager.default.removeItem(atPath: directory)
                    var last: TestResponse?
                    try await eventually("/ready reports the journal", timeout: .seconds(30)) {
                        last = try await server.request(.GET, "/ready")
                        return last?.status == 503
                    }
                    let body = try #require(try last?.json())
                    #expect(body["ready"] as? Bool == false)
                    let journal = try #require((body["checks"] as? [[String: Any]])?.first { $0["name"] as? String == "journal" })
                    #expect(journal["ok"] as? Bool == false)
                    #expect((journal["detail"] as? String)?.contains("not writable") == true, "\(journal)")
                    #expect(try await server.request(.GET, "/health").status == 200)
                }
            }
        }

        @Test("a backend that cannot decide makes /ready 503, naming the check")
        func undecidedBackend() {
            let loop = EmbeddedEventLoop()
            let api = LockAPI(service: UndecidedService(), limits: RequestLimits(), metrics: ServerMetrics(backend: "test"), events: LockEventHub(settings: EventStreamSettings(), loop: loop), connections: { 0 }, logger: Logger(label: "test"))
            var answer: Response?
            api.respond(to: APIRequest(endpoint: .ready, body: [], wantsJSON: false, locationBase: "http://x", client: nil), eventLoop: loop) { answer = $0 }
            loop.run()
            #expect(answer?.status == .serviceUnavailable)
            #expect(answer?.body == #"{"ready":false,"checks":[{"name":"accepting","ok":true,"detail":"accepting requests"},{"name":"store","ok":false,"detail":"no quorum"}]}"#)
        }

        @Test("once shutdown begins, the service is not accepting")
        func shuttingDown() throws {
            let loop = EmbeddedEventLoop()
            let service = LocalLockService(limits: LockTableLimits(), lastFencingToken: 0, clock: ManualClock(start: .now), logger: Logger(label: "test"))
            #expect(try service.readiness(eventLoop: loop).wait() == [.accepting(shuttingDown: false)])
            service.shutdown()
            let checks = try service.readiness(eventLoop: loop).wait()
            #expect(checks.map(\.ok) == [false])
            #expect(checks.first?.detail.contains("shutting down") == true)
        }
    }
}
