import Foundation
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// `RDLM-Request-Id`: the client names its acquire, so that a retry after a lost answer
    /// is the same request, not a second lock.
    @Suite("Acquires named by the client")
    struct RequestIDs {
        static let id = "0123456789abcdef0123456789abcdef"

        @Test("the lock's uid is the request id, and a retry of a granted acquire gets the same lock")
        func retryOfAGrant() async throws {
            try await withServer { server in
                let first = try await server.acquire("named", headers: [("RDLM-Request-Id", Self.id)])
                #expect(first.status == 201)
                #expect(try lockPath(first) == "/locks/named/\(Self.id)")
                let again = try await server.acquire("named", headers: [("RDLM-Request-Id", Self.id)])
                #expect(again.status == 201)
                #expect(again.header("Location") == first.header("Location"))
                #expect(again.header("RDLM-Fencing-Token") == first.header("RDLM-Fencing-Token"))
                #expect(server.service.lockCount == 1)
                // Another resource is another request: the id is taken, so it is refused, as
                // the client's error (a retry cannot succeed), never a 5xx.
                let elsewhere = try await server.acquire("other", headers: [("RDLM-Request-Id", Self.id), ("Accept", "application/json")])
                #expect(elsewhere.status == 409)
                #expect(try elsewhere.json()["error"] as? String == "this RDLM-Request-Id is the uid of a lock on another resource; send a fresh one for each acquire")
                #expect(try await server.request(.DELETE, try lockPath(first)).status == 204)
                #expect(try await server.acquire("named", headers: [("RDLM-Request-Id", Self.id)]).status == 201)
            }
        }

        @Test("a retry of an acquire still waiting on an open connection is refused, not queued twice")
        func retryOfAWaiter() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("busy")
                let connection = try await server.connect()
                let waiting = connection.send(
                    TestRequest(.POST, "/locks/busy", headers: [("RDLM-Request-Id", Self.id)], body: lockBody(wait: 30)),
                    timeout: .seconds(60))
                try await eventually("the waiter is queued") { server.service.lockCount == 2 }
                let retry = try await server.acquire("busy", headers: [("RDLM-Request-Id", Self.id)])
                #expect(retry.status == 503)
                #expect(retry.body.contains("RDLM-Request-Id"))
                #expect(server.service.lockCount == 2)
                #expect(try await server.request(.DELETE, holder).status == 204)
                let granted = try await waiting.get()
                #expect(granted.status == 201)
                #expect(try lockPath(granted) == "/locks/busy/\(Self.id)")
            }
        }

        @Test("a malformed or repeated request id is a bad request", arguments: [
            [("RDLM-Request-Id", "0123456789ABCDEF0123456789ABCDEF")],
            [("RDLM-Request-Id", "0123456789abcdef")],
            [("RDLM-Request-Id", "")],
            [("RDLM-Request-Id", Self.id), ("RDLM-Request-Id", Self.id)],
        ])
        func malformed(headers: [(String, String)]) async throws {
            try await withServer { server in
                let response = try await server.acquire("bad", headers: headers)
                #expect(response.status == 400)
                #expect(response.body.contains("RDLM-Request-Id must be 32 lowercase hexadecimal digits"))
                #expect(server.service.lockCount == 0)
            }
        }
    }
}
