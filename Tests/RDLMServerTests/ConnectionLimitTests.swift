import NIOCore
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// `--max-connections`: what a connection beyond the limit gets.
    @Suite("Connection limit")
    struct ConnectionLimit {
        /// A connection that has been served once, so the server surely counts it.
        func servedConnection(_ server: TestServer) async throws -> TestConnection {
            let connection = try await server.connect()
            let response = try await connection.execute(TestRequest(.GET, "/"))
            try #require(response.status == 200, "\(response)")
            return connection
        }

        @Test("a connection over the limit gets 503 with a message and Connection: close, then is closed")
        func overLimit() async throws {
            var configuration = ServerConfiguration.test()
            configuration.maxConnections = 2
            try await withServer(configuration) { server in
                let held = [try await servedConnection(server), try await servedConnection(server)]
                let refused = try await RawExchange.send(Array("GET / HTTP/1.1\r\nHost: t\r\n\r\n".utf8), port: server.port)
                #expect(refused.status == 503, "\(refused)")
                #expect(refused.headers["connection"] == "close")
                #expect(refused.headers["retry-after"] == "1")
                #expect(refused.body.contains("too many connections"), "\(refused)")
                #expect(refused.body.contains("at most 2"), "\(refused)")
                for connection in held { await connection.close() }
            }
        }

        @Test("a slot is free again once a connection closes")
        func slotReturns() async throws {
            var configuration = ServerConfiguration.test()
            configuration.maxConnections = 1
            try await withServer(configuration) { server in
                let first = try await servedConnection(server)
                await first.close()
                try await eventually("a new connection is served") {
                    (try? await RawExchange.send(Array("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".utf8), port: server.port))?.status == 200
                }
            }
        }
    }
}
