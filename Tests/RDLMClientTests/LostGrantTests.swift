import Foundation
@testable import RDLMClient
import RDLMTestSupport
import Testing

extension ClientTests {
    /// A 201 that never reaches the caller as a lock would leave the lock held by nobody for
    /// its whole lifetime: the client releases it. The scripted server lines the events up;
    /// parking the curl thread keeps it from reading a socket until the test says so.
    @Suite("grants that do not reach their caller")
    struct LostGrants {
        static let uid = "0123456789abcdef0123456789abcdef"

        @Test("a grant that arrives after its task was cancelled is released")
        func grantAfterCancellation() async throws {
            let cancelled = Gate()
            let granted = Flag()
            let server = try ScriptedServer { exchange in
                guard exchange.requestLine.hasPrefix("POST ") else { return exchange.answer("204 No Content") }
                cancelled.pass()
                exchange.answer("201 Created", headers: ["Location: http://127.0.0.1:\(exchange.port)/locks/lost/\(Self.uid)"])
                exchange.awaitAcknowledged()
                granted.set()
            }
            defer { server.stop() }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let acquire = Task { try await client.acquire("lost", wait: .seconds(30)) }
            try await eventually("the acquire reached the server") { server.requests.contains { $0.hasPrefix("POST /locks/lost ") } }

            let resume = Gate()
            let parked = try await parkCurlThread(of: client, until: resume)
            acquire.cancel()
            await #expect(throws: CancellationError.self) { try await acquire.value }
            cancelled.open()
            try await eventually("the grant is in the client's socket") { granted.isSet }
            resume.open()
            await parked.value

            try await eventually("the grant is released") { server.requests.contains("DELETE /locks/lost/\(Self.uid) HTTP/1.1") }
            await client.shutdown()
        }

        @Test("a grant whose answer is cut off after the headers is released")
        func grantCutOff() async throws {
            let server = try ScriptedServer { exchange in
                guard exchange.requestLine.hasPrefix("POST ") else { return exchange.answer("204 No Content") }
                exchange.send(Self.truncatedGrant(resource: "cut", port: exchange.port))
            }
            defer { server.stop() }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let error = await #expect(throws: RDLMError.self) { try await client.acquire("cut") }
            #expect(error == .transport)
            try await eventually("the grant is released") { server.requests.contains("DELETE /locks/cut/\(Self.uid) HTTP/1.1") }
            await client.shutdown()
        }

        @Test("a grant under way when the client shuts down is released")
        func grantDuringShutdown() async throws {
            let respond = Gate()
            let granted = Flag()
            let hangUp = Gate()
            let server = try ScriptedServer { exchange in
                guard exchange.requestLine.hasPrefix("POST ") else { return exchange.answer("204 No Content") }
                respond.pass()
                exchange.send(Self.truncatedGrant(resource: "stopping", port: exchange.port))
                exchange.awaitAcknowledged()
                granted.set()
                hangUp.pass()
            }
            defer {
                hangUp.open()
                server.stop()
            }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let acquire = Task { try await client.acquire("stopping") }
            try await eventually("the acquire reached the server") { server.requests.contains { $0.hasPrefix("POST /locks/stopping ") } }

            // The curl thread reads the headers, then sees the stop on its next round.
            let resume = Gate()
            let parked = try await parkCurlThread(of: client, until: resume)
            respond.open()
            try await eventually("the grant's headers are in the client's socket") { granted.isSet }
            client.transport.stop()
            resume.open()
            await parked.value
            await #expect(throws: RDLMError.clientShutdown) { try await acquire.value }

            await client.shutdown()
            try await eventually("the grant is released") { server.requests.contains("DELETE /locks/stopping/\(Self.uid) HTTP/1.1") }
        }

        /// A 201's headers and the start of a body that is never finished.
        static func truncatedGrant(resource: String, port: UInt16) -> String {
            "HTTP/1.1 201 Created\r\nLocation: http://127.0.0.1:\(port)/locks/\(resource)/\(uid)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"uid\": "
        }

        /// Blocks `client`'s curl thread in a task job until `resume` opens: meanwhile its
        /// commands queue up and no socket is read.
        func parkCurlThread(of client: RDLMClient, until resume: Gate) async throws -> Task<Void, Never> {
            let parked = Flag()
            let job = Task(executorPreference: client.taskExecutor) {
                parked.set()
                resume.pass()
            }
            try await eventually("the curl thread is parked") { parked.isSet }
            return job
        }
    }
}
