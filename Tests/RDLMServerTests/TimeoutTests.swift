import NIOCore
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Clients that stop talking midway, and connections left idle.
    @Suite("Request and idle timeouts")
    struct Timeouts {
        /// A short request timeout; the idle timeout is long unless a test is about it, so
        /// that a loaded machine's pause between connecting and writing cannot close the
        /// connection first.
        static func configuration(idleTimeout: Duration = .seconds(60)) -> ServerConfiguration {
            .test(limits: RequestLimits(requestTimeout: .milliseconds(300), idleTimeout: idleTimeout))
        }

        @Test("a body that stops arriving gets 408 with a message, and the server serves on")
        func stalledBody() async throws {
            try await withServer(Self.configuration()) { server in
                let partial = "POST /locks/foo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"title\""
                let response = try await RawExchange.send(Array(partial.utf8), port: server.port)
                #expect(response.status == 408)
                #expect(response.description.contains("request not received completely"))
                #expect(try await server.request(.GET, "/").status == 200)
            }
        }

        @Test("a request head that never ends gets 408 at the request timeout, not the longer idle timeout")
        func stalledHead() async throws {
            try await withServer(Self.configuration()) { server in
                let response = try await RawExchange.send(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8), port: server.port)
                #expect(response.status == 408)
                #expect(response.description.contains("request not received completely within 0.3 seconds"))
            }
        }

        @Test("an idle keep-alive connection is closed, but a parked waiter is never timed out")
        func idleClosedButWaiterKept() async throws {
            try await withServer(Self.configuration(idleTimeout: .seconds(2))) { server in
                let holder = try await server.acquireLock("foo", lifetime: 30)
                let idle = try await server.connect()
                #expect(try await idle.execute(TestRequest(.GET, "/")).status == 200)
                let waiter = try await server.connect()
                let answer = waiter.send(TestRequest(.POST, "/locks/foo", body: lockBody(wait: 30)))
                try await idle.waitForClose()
                // The waiter has sat longer than the idle timeout; it is still queued.
                #expect(server.service.lockCount == 2)
                #expect(try await server.request(.DELETE, holder).status == 204)
                #expect(try await answer.get().status == 201)
                await waiter.close()
            }
        }
    }
}
