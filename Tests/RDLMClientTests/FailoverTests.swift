import Foundation
@testable import RDLMClient
import Testing

extension ClientTests {
    /// Several servers sharing one lock space: a server that gives no answer is skipped,
    /// one that answers (any status) is believed.
    @Suite("failover between servers")
    struct Failover {
        static let uid = "00112233445566778899aabbccddeeff"

        /// A client of `servers` with short timeouts, shut down after `body`.
        @discardableResult
        func withClient<Result>(_ servers: [URL], _ body: (RDLMClient) async throws -> Result) async throws -> Result {
            let client = try RDLMClient(configuration: .init(servers: servers, settings: .init(
                defaultLifetime: .seconds(30), defaultWait: .seconds(5), requestTimeout: .seconds(10),
                connectTimeout: .seconds(2))))
            do {
                let result = try await body(client)
                await client.shutdown()
                return result
            } catch {
                await client.shutdown()
                throw error
            }
        }

        /// The value of the `RDLM-Request-Id` header of a request as received.
        static func requestID(of request: String) -> String? {
            request.components(separatedBy: "\r\n")
                .first { $0.lowercased().hasPrefix("rdlm-request-id:") }
                .map { $0.dropFirst("rdlm-request-id:".count).trimmingCharacters(in: .whitespaces) }
        }

        static func isLowercaseHex32(_ text: String) -> Bool {
            text.utf8.count == 32 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        }

        @Test("an acquire skips a dead first server and is granted by the second, which later requests start at")
        func acquireSkipsDeadServer() async throws {
            let dead = try await closedPortURL()
            try await withDaemonAndClient { daemon in
                let live = daemon.base
                try await withClient([dead, URL(string: live)!]) { client in
                    let lock = try await client.acquire("failover")
                    #expect(lock.url.absoluteString.hasPrefix(live + "/locks/failover/"))
                    #expect(client.base == live)
                    let details = try await daemon.lock(at: lock.url)
                    #expect(details.isActive)
                    try await client.release(lock)
                    #expect(try await daemon.isGone(lock.url))
                }
            }
        }

        @Test("release, refresh and show of a lock whose URL names a dead server go to another server")
        func lockURLOfDeadServer() async throws {
            let dead = try await closedPortURL()
            try await withDaemonAndClient { daemon in
                let live = daemon.base
                let granted = try await daemon.acquire("moved", lifetime: .seconds(30))
                let onDead = URL(string: dead.absoluteString + "/locks/moved/" + granted.uid)!
                try await withClient([dead, URL(string: live)!]) { client in
                    let shown = try await client.lock(at: onDead)
                    #expect(shown.uid == granted.uid && shown.isActive)
                    _ = try await client.refresh(at: onDead, lifetime: .seconds(60))
                    #expect(try await daemon.lock(at: granted.url).lifetime == .seconds(60))
                    try await client.release(at: onDead)
                }
                #expect(try await daemon.isGone(granted.url))
            }
        }

        @Test("every acquire sends an RDLM-Request-Id of 32 lowercase hex digits, the same to the next server after a lost answer")
        func requestIDSurvivesFailover() async throws {
            // The first server reads the request and closes without a word: its answer is
            // lost, and it may have queued the acquire.
            let silent = try ScriptedServer { _ in }
            defer { silent.stop() }
            let granting = try ScriptedServer { exchange in
                let id = Failover.requestID(of: exchange.request) ?? "none"
                exchange.answer("201 Created", headers: ["Location: http://127.0.0.1:\(exchange.port)/locks/named/\(id)"])
            }
            defer { granting.stop() }
            let lock = try await withClient([silent.url, granting.url]) { client in
                try await client.acquire("named")
            }
            let sent = silent.wholeRequests + granting.wholeRequests
            try #require(sent.count == 2, "\(sent)")
            let ids = sent.compactMap(Failover.requestID(of:))
            try #require(ids.count == 2, "\(sent)")
            #expect(Failover.isLowercaseHex32(ids[0]), "\(ids[0])")
            #expect(ids[0] == ids[1])
            #expect(lock.uid == ids[0])
        }

        @Test("two acquires send different request ids")
        func requestIDsDiffer() async throws {
            let server = try ScriptedServer { exchange in
                exchange.answer("201 Created", headers: ["Location: http://127.0.0.1:\(exchange.port)/locks/fresh/\(Failover.uid)"])
            }
            defer { server.stop() }
            try await withClient([server.url]) { client in
                _ = try await client.acquire("fresh")
                _ = try await client.acquire("fresh")
            }
            let ids = server.wholeRequests.compactMap(Failover.requestID(of:))
            try #require(ids.count == 2)
            #expect(ids[0] != ids[1] && ids.allSatisfy(Failover.isLowercaseHex32))
        }

        @Test("a 503 saying the retried acquire is still in progress is retried with the same id until granted")
        func requestInProgressIsRetried() async throws {
            let silent = try ScriptedServer { _ in }
            defer { silent.stop() }
            let answeredBusy = Flag()
            let granting = try ScriptedServer { exchange in
                if !answeredBusy.isSet {
                    answeredBusy.set()
                    let body = #"{"error":"an acquire with this RDLM-Request-Id is still waiting on another connection; retry once that one has closed","status":503}"#
                    exchange.send("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
                } else {
                    let id = Failover.requestID(of: exchange.request) ?? "none"
                    exchange.answer("201 Created", headers: ["Location: http://127.0.0.1:\(exchange.port)/locks/busy/\(id)"])
                }
            }
            defer { granting.stop() }
            let lock = try await withClient([silent.url, granting.url]) { client in
                try await client.acquire("busy")
            }
            let ids = (silent.wholeRequests + granting.wholeRequests).compactMap(Failover.requestID(of:))
            #expect(ids.count >= 3 && Set(ids).count == 1, "\(ids)")
            #expect(lock.uid == ids.first)
        }

        @Test("a 503 is an answer: the next server is not asked")
        func serviceUnavailableIsAnAnswer() async throws {
            let unavailable = try ScriptedServer { exchange in exchange.answer("503 Service Unavailable") }
            defer { unavailable.stop() }
            let other = try ScriptedServer { exchange in exchange.answer("500 Internal Server Error") }
            defer { other.stop() }
            try await withClient([unavailable.url, other.url]) { client in
                await #expect(throws: RDLMError.serverError) { try await client.acquire("quorum") }
            }
            #expect(unavailable.requests.count == 1)
            #expect(other.requests.isEmpty)
        }

        @Test("a release whose answer was lost and that then gets 404 from another server succeeds")
        func retriedReleaseNotFoundIsSuccess() async throws {
            let silent = try ScriptedServer { _ in }
            defer { silent.stop() }
            let gone = try ScriptedServer { exchange in exchange.answer("404 Not Found") }
            defer { gone.stop() }
            let url = URL(string: "\(silent.url)/locks/lost/\(Failover.uid)")!
            try await withClient([silent.url, gone.url]) { client in
                try await client.release(at: url)
            }
            #expect(silent.requests == ["DELETE /locks/lost/\(Failover.uid) HTTP/1.1"])
            #expect(gone.requests == ["DELETE /locks/lost/\(Failover.uid) HTTP/1.1"])
        }

        @Test("a release never sent (connection refused) that gets 404 from another server is notFound")
        func refusedReleaseNotFoundIsNotFound() async throws {
            let dead = try await closedPortURL()
            let gone = try ScriptedServer { exchange in exchange.answer("404 Not Found") }
            defer { gone.stop() }
            let url = URL(string: "\(dead)/locks/lost/\(Failover.uid)")!
            try await withClient([dead, gone.url]) { client in
                await #expect(throws: RDLMError.notFound) { try await client.release(at: url) }
            }
        }

        @Test("when every server is dead, the error is the last server's transport error")
        func allServersDead() async throws {
            let first = try await closedPortURL()
            let last = try await closedPortURL()
            try await withClient([first, last]) { client in
                do {
                    _ = try await client.acquire("nowhere")
                    Issue.record("acquire succeeded with no server")
                } catch let error as RDLMError {
                    #expect(error == .transport)
                    #expect(error.curlCode == 7)
                    #expect(error.request == "POST \(last)/locks/nowhere", "\(error)")
                }
            }
        }
    }
}
