import Foundation
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Contract Part 2: `"mode": "shared"`.
    @Suite("Shared locks")
    struct Shared {
        @Test("two shared requests hold the resource at once")
        func twoSharedHolders() async throws {
            try await withServer { server in
                let first = try await server.acquire("foo", title: "reader1", wait: 0, mode: "shared")
                let second = try await server.acquire("foo", title: "reader2", wait: 0, mode: "shared")
                #expect(first.status == 201)
                #expect(second.status == 201)
                let locks = try await server.locks(on: "foo")
                #expect(locks.map { $0["active"] as? Bool } == [true, true])
                #expect(locks.map { $0["mode"] as? String } == ["shared", "shared"])
            }
        }

        @Test("an exclusive request waits until every shared holder has released")
        func exclusiveWaitsForAllShared() async throws {
            try await withServer { server in
                let first = try await server.acquireLock("foo", title: "reader1", mode: "shared")
                let second = try await server.acquireLock("foo", title: "reader2", mode: "shared")
                let writer = try await server.park("foo", title: "writer", mode: "exclusive")
                #expect(try await server.request(.DELETE, first).status == 204)
                let afterOne = try await server.locks(on: "foo")
                #expect(afterOne.map { $0["title"] as? String } == ["reader2", "writer"])
                #expect(afterOne.last?["active"] as? Bool == false)
                #expect(try await server.request(.DELETE, second).status == 204)
                let answer = try await writer.answer()
                #expect(answer.status == 201)
                #expect(try await server.request(.GET, try lockPath(answer)).json()["mode"] as? String == "exclusive")
                await writer.connection.close()
            }
        }

        @Test("a shared request arriving after a queued exclusive one waits behind it")
        func sharedQueuesBehindExclusive() async throws {
            try await withServer { server in
                let reader = try await server.acquireLock("foo", title: "reader1", mode: "shared")
                let writer = try await server.park("foo", title: "writer")
                let lateReader = try await server.park("foo", title: "reader2", mode: "shared")
                let queued = try await server.locks(on: "foo")
                #expect(queued.map { $0["title"] as? String } == ["reader1", "writer", "reader2"])
                #expect(queued.map { $0["active"] as? Bool } == [true, false, false])

                #expect(try await server.request(.DELETE, reader).status == 204)
                let written = try await writer.answer()
                #expect(written.status == 201)
                let whileWriting = try await server.locks(on: "foo")
                #expect(whileWriting.map { $0["title"] as? String } == ["writer", "reader2"])
                #expect(whileWriting.map { $0["active"] as? Bool } == [true, false])

                #expect(try await server.request(.DELETE, try lockPath(written)).status == 204)
                #expect(try await lateReader.answer().status == 201)
                await writer.connection.close()
                await lateReader.connection.close()
            }
        }

        @Test("shared waiters behind an exclusive holder are granted together when it releases")
        func sharedWaitersGrantedTogether() async throws {
            try await withServer { server in
                let writer = try await server.acquireLock("foo", title: "writer")
                let readers = [
                    try await server.park("foo", title: "reader1", mode: "shared"),
                    try await server.park("foo", title: "reader2", mode: "shared"),
                ]
                #expect(try await server.request(.DELETE, writer).status == 204)
                for reader in readers {
                    #expect(try await reader.answer().status == 201)
                    await reader.connection.close()
                }
                #expect(try await server.locks(on: "foo").map { $0["active"] as? Bool } == [true, true])
            }
        }

        @Test("a try-lock for a shared lock on an exclusively held resource is 408")
        func sharedTryLockOnExclusive() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                #expect(try await server.acquire("foo", wait: 0, mode: "shared").status == 408)
            }
        }
    }

    /// Contract Part 2: errors as JSON for clients that ask for it.
    @Suite("Error format")
    struct ErrorFormat {
        @Test("with Accept: application/json an error is {\"error\", \"status\"} as application/json")
        func jsonError() async throws {
            try await withServer { server in
                let response = try await server.request(.POST, "/locks/foo", headers: [("Accept", "application/json")], body: "not json")
                #expect(response.status == 400)
                #expect(response.header("Content-Type")?.hasPrefix("application/json") == true, "\(response.headers)")
                let body = try response.json()
                #expect(integer(body["status"]) == 400)
                let message = try #require(body["error"] as? String)
                #expect(!message.isEmpty)
            }
        }

        @Test("JSON errors carry the status of each kind of error", arguments: [404, 405, 408])
        func jsonErrorStatuses(status: Int) async throws {
            try await withServer { server in
                let json = [("Accept", "application/json")]
                let response: TestResponse
                switch status {
                case 404: response = try await server.request(.GET, "/locks/foo/0123456789abcdef0123456789abcdef", headers: json)
                case 405: response = try await server.request(.PUT, "/locks/foo", headers: json, body: lockBody())
                default:
                    _ = try await server.acquireLock("foo")
                    response = try await server.acquire("foo", wait: 0, headers: json)
                }
                #expect(response.status == status)
                #expect(response.header("Content-Type")?.hasPrefix("application/json") == true)
                #expect(integer(try response.json()["status"]) == UInt64(status))
            }
        }

        @Test("a 401 as JSON keeps its WWW-Authenticate challenge")
        func jsonUnauthorized() async throws {
            try await withServer(.test(admin: .basic(credentials: ["admin:secret"]))) { server in
                let response = try await server.request(.GET, "/resources", headers: [("Accept", "application/json")])
                #expect(response.status == 401)
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Basic realm=") == true)
                #expect(integer(try response.json()["status"]) == 401)
            }
        }

        @Test("without Accept: application/json an error is the original's HTML page")
        func htmlError() async throws {
            try await withServer { server in
                let response = try await server.request(.POST, "/locks/foo", body: "not json")
                #expect(response.status == 400)
                #expect(response.header("Content-Type")?.hasPrefix("text/html") == true, "\(response.headers)")
                #expect(response.body.contains("<html>"), "\(response.body)")
                #expect(response.body.contains("400"))
            }
        }
    }
}
