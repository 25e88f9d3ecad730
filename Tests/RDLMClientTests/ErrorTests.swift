import Foundation
import RDLMClient
import RDLMServer
import RDLMTestSupport
import Testing

extension ClientTests {
    @Suite("errors")
    struct Errors {
        @Test("a wait that runs out is waitTimeout (408), with a readable description")
        func waitTimeout() async throws {
            try await withDaemonAndClient { client in
                let held = try await client.acquire("busy")
                let started = ContinuousClock.now
                let error = try await #require(throws: RDLMError.self) {
                    try await client.acquire("busy", wait: .milliseconds(200))
                }
                #expect(error == .waitTimeout)
                #expect(error.status == 408)
                #expect(ContinuousClock.now - started >= .milliseconds(150))
                #expect(error.description.hasPrefix("RDLMError.waitTimeout (HTTP 408) on POST http://127.0.0.1:"))
                #expect(error.description.hasSuffix("/locks/busy: lock request (wait) timeout"))
                try await client.release(held)
            }
        }

        @Test("a waiter deleted by an admin is deleted (409)")
        func deletedWhileWaiting() async throws {
            try await withDaemonAndClient { client in
                _ = try await client.acquire("contested")
                let waiter = Task { try await client.acquire("contested", wait: .seconds(30)) }
                try await eventually("the waiter is queued") { try await client.locks(on: "contested").count == 2 }
                try await client.deleteResource("contested")
                let error = await #expect(throws: RDLMError.self) { try await waiter.value }
                #expect(error == .deleted)
                #expect(error?.status == 409)
                await #expect(throws: RDLMError.notFound) { try await client.deleteResource("contested") }
            }
        }

        @Test("the server's 400 message reaches badRequest; bad names are refused locally")
        func badRequest() async throws {
            try await withDaemonAndClient { client in
                let error = await #expect(throws: RDLMError.self) { try await client.acquire("zero", lifetime: .zero) }
                #expect(error == .badRequest)
                #expect(error?.status == 400)
                #expect(error?.message == "field 'lifetime' must be more than zero seconds")

                let named = await #expect(throws: RDLMError.self) { try await client.acquire("no/slashes") }
                #expect(named == .badRequest)
                #expect(named?.status == nil)
            }
        }

        @Test("a 404 to an acquire is badRequest: the server did not accept the resource name")
        func acquireAnswered404() async throws {
            let server = try ScriptedServer { $0.answer("404 Not Found") }
            defer { server.stop() }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let error = await #expect(throws: RDLMError.self) { try await client.acquire("unheardof") }
            #expect(error == .badRequest)
            #expect(error?.status == 404)
            #expect(error?.message?.hasPrefix("the server did not accept the resource name") == true)
            await client.shutdown()
        }

        @Test("a release answered 204 or 200 succeeds; one answered 404 is notFound")
        func releaseOutcomes() async throws {
            try await withDaemonAndClient { client in
                let lock = try await client.acquire("released")
                try await client.release(lock)  // rdlmd answers 204
                let error = await #expect(throws: RDLMError.self) { try await client.release(lock) }
                #expect(error == .notFound)
                #expect(error?.status == 404)
            }
            let server = try ScriptedServer { $0.answer("200 OK") }
            defer { server.stop() }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            try await client.release(at: server.url.appending(path: "locks/old/0123456789abcdef0123456789abcdef"))
            #expect(server.requests == ["DELETE /locks/old/0123456789abcdef0123456789abcdef HTTP/1.1"])
            await client.shutdown()
        }

        /// `admin:s3cret` as the userpass file holds it: plain, or hashed (htpasswd -nbB, mkpasswd -m yescrypt).
        static let adminFiles = [
            ["admin:s3cret"],
            [#"admin:$2y$04$d4De7yp6cLOqeP/SH1X7n.1qcyRkW1JtNXPm4aoyyqUYPSaBVf3PK"#],
            [#"admin:$y$j9T$t8dInpBQOWO.rf1tV4B1m0$YVCrolH5MNnDEe/6u5PDDZ511gIr4qUhTAs0tgu7Bs4"#],
        ]

        @Test("admin requests without credentials are unauthorized; with them they work (plain, bcrypt, yescrypt)", arguments: adminFiles)
        func unauthorized(lines: [String]) async throws {
            let admins = AdminAuthentication.basic(credentials: lines)
            try await withDaemonAndClient(admin: admins) { client in
                await #expect(throws: RDLMError.unauthorized) { try await client.resources() }
                let lock = try await client.acquire("open")
                try await client.release(lock)
            }
            let credentials = RDLMClient.AdminCredentials(username: "admin", password: "s3cret")
            try await withDaemonAndClient(admin: admins, credentials: credentials) { client in
                _ = try await client.acquire("guarded")
                #expect(try await client.resources() == ["guarded"])
                try await client.deleteAll()
            }
            let wrong = RDLMClient.AdminCredentials(username: "admin", password: "guess")
            try await withDaemonAndClient(admin: admins, credentials: wrong) { client in
                await #expect(throws: RDLMError.unauthorized) { try await client.deleteAll() }
            }
        }

        @Test("admin requests on a server that disables them are forbidden")
        func forbidden() async throws {
            try await withDaemonAndClient(admin: .forbidden) { client in
                await #expect(throws: RDLMError.forbidden) { try await client.locks(on: "any") }
            }
        }

        @Test("a server that is down gives a transport error at once")
        func serverDown() async throws {
            let client = try RDLMClient(configuration: .init(baseURL: try await closedPortURL()))
            let started = ContinuousClock.now
            let error = await #expect(throws: RDLMError.self) { try await client.acquire("nobody", wait: .seconds(30)) }
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(error == .transport)
            #expect(error?.curlCode == 7)  // CURLE_COULDNT_CONNECT
            #expect(error?.description.contains("RDLMError.transport (curl error 7) on POST") == true)
            await client.shutdown()
        }

        @Test("a server that never answers gives a transport timeout after the request timeout")
        func requestTimeout() async throws {
            try await withSilentPort { url in
                let client = try RDLMClient(configuration: .init(baseURL: url, requestTimeout: .milliseconds(300)))
                let started = ContinuousClock.now
                let error = await #expect(throws: RDLMError.self) { try await client.resources() }
                let elapsed = ContinuousClock.now - started
                #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(10))
                #expect(error == .transport)
                #expect(error?.curlCode == 28)  // CURLE_OPERATION_TIMEDOUT
                await client.shutdown()
            }
        }

        @Test("requests after shutdown fail with clientShutdown")
        func afterShutdown() async throws {
            let client = try RDLMClient(configuration: .init(baseURL: try await closedPortURL()))
            await client.shutdown()
            await #expect(throws: RDLMError.clientShutdown) { try await client.resources() }
        }
    }
}
