import Foundation
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Contract Part 1: `GET {lock URL}` and `GET /`.
    @Suite("Inspect a lock")
    struct Inspect {
        @Test("GET on an active lock is 200 hal+json with every field of the original")
        func activeLock() async throws {
            try await withServer { server in
                let title = "nightly \"backup\" é\n"
                let path = try await server.acquireLock("foo", title: title, lifetime: 300, wait: 5)
                let response = try await server.request(.GET, path)
                #expect(response.status == 200)
                #expect(response.header("Content-Type")?.hasPrefix("application/hal+json") == true, "\(response.headers)")
                let lock = try response.json()
                #expect(lock["uid"] as? String == uid(ofLockPath: path))
                #expect(lock["title"] as? String == title)
                #expect(double(lock["lifetime"]) == 300)
                #expect(double(lock["wait"]) == 5)
                #expect(lock["active"] as? Bool == true)
                #expect(lock["active_since"] is String)
                #expect(lock["active_expires"] is String)
                #expect(link(lock, "self") == path)
                #expect(link(lock, "resource") == "/resources/foo")
            }
        }

        @Test("an active lock's timestamps parse by their first 19 characters and span its lifetime")
        func activeTimestamps() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo", lifetime: 300)
                let lock = try await server.request(.GET, path).json()
                let since = try #require(parseTimestamp(lock["active_since"]), "\(lock)")
                let expires = try #require(parseTimestamp(lock["active_expires"]), "\(lock)")
                #expect(abs(since.timeIntervalSinceNow) < 120, "active_since \(since) is not about now (UTC)")
                #expect(abs(expires.timeIntervalSince(since) - 300) <= 1)
                // ISO 8601 with microseconds, as the original printed them.
                let text = try #require(lock["active_since"] as? String)
                #expect(text.count >= 26)
                #expect(Array(text)[19] == ".")
                #expect(text.dropFirst(20).prefix(6).allSatisfy { $0.isNumber })
            }
        }

        @Test("a waiting lock shows active false with wait_since and wait_expires")
        func waitingLock() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let waiter = try await server.park("foo", title: "patient", wait: 20)
                let locks = try await server.locks(on: "foo")
                try #require(locks.count == 2)
                let path = try #require(link(locks[1], "self"))
                let response = try await server.request(.GET, path)
                #expect(response.status == 200)
                let lock = try response.json()
                #expect(lock["title"] as? String == "patient")
                #expect(lock["active"] as? Bool == false)
                #expect(lock["active_since"] == nil)
                let since = try #require(parseTimestamp(lock["wait_since"]), "\(lock)")
                let expires = try #require(parseTimestamp(lock["wait_expires"]), "\(lock)")
                #expect(abs(expires.timeIntervalSince(since) - 20) <= 1)
                #expect(link(lock, "resource") == "/resources/foo")
                await waiter.connection.close()
            }
        }

        @Test("GET on a lock that does not exist is 404")
        func missingLock() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo")
                #expect(try await server.request(.DELETE, path).status == 204)
                let response = try await server.request(.GET, path)
                #expect(response.status == 404)
                #expect(!response.body.isEmpty)
            }
        }

        @Test("GET / is 200 with a welcome text")
        func home() async throws {
            try await withServer { server in
                let response = try await server.request(.GET, "/")
                #expect(response.status == 200)
                #expect(!response.body.isEmpty)
            }
        }
    }
}
