import Foundation
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Contract Part 1: `POST /locks/{r}` and `DELETE {lock URL}`.
    @Suite("Acquire and release")
    struct AcquireRelease {
        @Test("acquire answers 201 with an absolute Location built from the Host header and a 32-hex uid")
        func acquireLocation() async throws {
            try await withServer { server in
                let response = try await server.acquire("foo", headers: [("Host", "locks.example.com:4242")])
                #expect(response.status == 201)
                let location = try #require(response.header("Location"))
                let prefix = "http://locks.example.com:4242/locks/foo/"
                #expect(location.hasPrefix(prefix), "Location: \(location)")
                let uid = location.dropFirst(prefix.count)
                #expect(uid.count == 32)
                #expect(uid.allSatisfy { "0123456789abcdef".contains($0) }, "uid \(uid)")
            }
        }

        @Test("two grants get different uids")
        func uniqueUIDs() async throws {
            try await withServer { server in
                let first = try await server.acquireLock("foo")
                #expect(try await server.request(.DELETE, first).status == 204)
                let second = try await server.acquireLock("foo")
                #expect(first != second)
            }
        }

        @Test("a request without Host still gets a Location with the server's real port")
        func locationWithoutHost() async throws {
            try await withServer { server in
                let body = lockBody()
                let raw = "POST /locks/foo HTTP/1.0\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                let response = try await RawExchange.send(Array(raw.utf8), port: server.port)
                #expect(response.status == 201, "\(response)")
                let location = try #require(response.headers["location"])
                #expect(location.hasPrefix("http://127.0.0.1:\(server.port)/locks/foo/"), "Location: \(location)")
            }
        }

        @Test("acquire answers 408 when the wait runs out")
        func waitRunsOut() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let start = ContinuousClock.now
                let response = try await server.acquire("foo", wait: 0.3)
                let elapsed = seconds(since: start)
                #expect(response.status == 408)
                #expect(!response.body.isEmpty)
                #expect(elapsed >= 0.3, "answered after \(elapsed) s")
                #expect(elapsed < 5, "answered after \(elapsed) s")
            }
        }

        @Test("a waiter whose resource an admin deletes gets 409")
        func waiterDeletedByAdmin() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let waiter = try await server.park("foo")
                #expect(try await server.request(.DELETE, "/resources/foo").status == 204)
                let answer = try await waiter.answer()
                #expect(answer.status == 409)
                #expect(!answer.body.isEmpty)
                await waiter.connection.close()
            }
        }

        @Test("a waiter whose own lock URL is deleted gets 409, and the DELETE gets 204")
        func waiterDeletedByItsURL() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let waiter = try await server.park("foo", title: "waiting one")
                let locks = try await server.locks(on: "foo")
                try #require(locks.count == 2)
                #expect(locks[1]["title"] as? String == "waiting one")
                let path = try #require(link(locks[1], "self"))
                #expect(try await server.request(.DELETE, path).status == 204)
                #expect(try await waiter.answer().status == 409)
                await waiter.connection.close()
            }
        }

        @Test("a resource name outside [a-zA-Z0-9]+ is 404", arguments: ["/locks/foo-bar", "/locks/foo%20bar", "/locks/foo_bar", "/locks/", "/locks/f%C3%A9"])
        func badResourceName(path: String) async throws {
            try await withServer { server in
                let response = try await server.request(.POST, path, body: lockBody())
                #expect(response.status == 404)
                #expect(!response.body.isEmpty)
                #expect(server.service.lockCount == 0)
            }
        }

        @Test("release answers 204, then 404 for the same lock")
        func releaseTwice() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo")
                #expect(try await server.request(.DELETE, path).status == 204)
                let again = try await server.request(.DELETE, path)
                #expect(again.status == 404)
                #expect(!again.body.isEmpty)
            }
        }

        @Test("release of an expired lock is 404")
        func releaseExpired() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo", lifetime: 0.1)
                try await eventually("the lock expires") { server.service.lockCount == 0 }
                let response = try await server.request(.DELETE, path)
                #expect(response.status == 404)
            }
        }

        @Test("release on the wrong resource is 404 and leaves the lock")
        func releaseWrongResource() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo")
                let uid = uid(ofLockPath: path)
                #expect(try await server.request(.DELETE, "/locks/bar/\(uid)").status == 404)
                #expect(try await server.request(.GET, path).status == 200)
            }
        }

        @Test("release with a uid that is not 32 hex characters is 404", arguments: ["xyz", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789abcdef0123456789abcdeg"])
        func releaseBadUID(uid: String) async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let response = try await server.request(.DELETE, "/locks/foo/\(uid)")
                #expect(response.status == 404)
                #expect(server.service.lockCount == 1)
            }
        }

        @Test("release of an unknown uid is 404")
        func releaseUnknownUID() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let unknown = (0..<32).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
                #expect(try await server.request(.DELETE, "/locks/foo/\(unknown)").status == 404)
                #expect(server.service.lockCount == 1)
            }
        }

        @Test("releasing the holder hands the lock to the oldest waiter at once, first come first served")
        func fifoHandoff() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo", title: "holder")
                var waiters: [ParkedRequest] = []
                for index in 1...3 {
                    waiters.append(try await server.park("foo", title: "w\(index)"))
                }
                #expect(try await server.locks(on: "foo").map { $0["title"] as? String } == ["holder", "w1", "w2", "w3"])
                var current = holder
                for (index, waiter) in waiters.enumerated() {
                    let start = ContinuousClock.now
                    #expect(try await server.request(.DELETE, current).status == 204)
                    let answer = try await waiter.answer()
                    #expect(answer.status == 201, "w\(index + 1): \(answer)")
                    #expect(seconds(since: start) < 5)
                    current = try lockPath(answer)
                    let titles = try await server.locks(on: "foo").map { $0["title"] as? String }
                    #expect(titles == (index + 1...3).map { "w\($0)" })
                    let locks = try await server.locks(on: "foo")
                    #expect(locks.first?["active"] as? Bool == true)
                    #expect(locks.dropFirst().allSatisfy { $0["active"] as? Bool == false })
                }
                #expect(try await server.request(.DELETE, current).status == 204)
                for waiter in waiters { await waiter.connection.close() }
                try await eventually("the resource is forgotten") { server.service.resourceCount == 0 }
            }
        }
    }
}
