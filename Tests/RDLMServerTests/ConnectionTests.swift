import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Persistent connections and HTTP/1.0.
    @Suite("Keep-alive")
    struct KeepAlive {
        @Test("several requests one after the other share one keep-alive connection")
        func sequentialRequests() async throws {
            try await withServer { server in
                let connection = try await server.connect()
                #expect(try await connection.execute(TestRequest(.GET, "/")).status == 200)
                let acquired = try await connection.execute(TestRequest(.POST, "/locks/foo", body: lockBody()))
                #expect(acquired.status == 201)
                let path = try lockPath(acquired)
                #expect(try await connection.execute(TestRequest(.GET, path)).status == 200)
                #expect(try await connection.execute(TestRequest(.PATCH, path)).status == 200)
                #expect(try await connection.execute(TestRequest(.DELETE, path)).status == 204)
                let last = try await connection.execute(TestRequest(.GET, "/resources"))
                #expect(last.status == 200)
                #expect(last.header("Connection")?.lowercased() != "close")
                #expect(connection.isActive)
                await connection.close()
            }
        }

        @Test("pipelined requests are answered in order on one connection")
        func pipelinedRequests() async throws {
            try await withServer { server in
                let connection = try await server.connect()
                let answers = [
                    connection.send(TestRequest(.GET, "/")),
                    connection.send(TestRequest(.POST, "/locks/foo", body: lockBody())),
                    connection.send(TestRequest(.POST, "/locks/foo", body: lockBody(wait: 0))),
                    connection.send(TestRequest(.GET, "/resources/foo")),
                ]
                var statuses: [Int] = []
                for answer in answers { statuses.append(try await answer.get().status) }
                #expect(statuses == [200, 201, 408, 200])
                await connection.close()
            }
        }

        @Test("a request queued behind a parked acquire on the same connection waits for it")
        func pipelinedBehindWaiter() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo")
                let connection = try await server.connect()
                let waiting = connection.send(TestRequest(.POST, "/locks/foo", body: lockBody(wait: 30)))
                let behind = connection.send(TestRequest(.GET, "/"))
                try await eventually("the waiter is queued") { server.service.lockCount == 2 }
                #expect(try await server.request(.DELETE, holder).status == 204)
                #expect(try await waiting.get().status == 201)
                #expect(try await behind.get().status == 200)
                await connection.close()
            }
        }

        @Test("HTTP/1.0 without keep-alive gets Connection: close and the connection closes")
        func http10Closes() async throws {
            try await withServer { server in
                let response = try await RawExchange.send(Array("GET / HTTP/1.0\r\nHost: x\r\n\r\n".utf8), port: server.port)
                #expect(response.status == 200)
                #expect(response.headers["connection"]?.lowercased() == "close", "\(response)")
            }
        }

        @Test("HTTP/1.0 with Connection: keep-alive keeps the connection open")
        func http10KeepAlive() async throws {
            try await withServer { server in
                let connection = try await server.connect()
                var request = TestRequest(.GET, "/", headers: [("Connection", "keep-alive")])
                request.version = .http1_0
                let first = try await connection.execute(request)
                #expect(first.status == 200)
                #expect(first.header("Connection")?.lowercased() == "keep-alive")
                #expect(try await connection.execute(request).status == 200)
                await connection.close()
            }
        }

        @Test("HTTP/1.1 with Connection: close is answered, then closed")
        func http11Close() async throws {
            try await withServer { server in
                let connection = try await server.connect()
                let response = try await connection.execute(TestRequest(.GET, "/", headers: [("Connection", "close")]))
                #expect(response.status == 200)
                #expect(response.header("Connection")?.lowercased() == "close")
                try await connection.waitForClose()
            }
        }
    }

    /// Contract Part 2: a waiter whose client leaves is dropped at once.
    @Suite("Abandoned waiters")
    struct Abandoned {
        @Test("a waiter whose client disconnects leaves the queue and never becomes a holder")
        func abandonedWaiter() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo", title: "holder")
                let waiter = try await server.park("foo", title: "abandoned")
                #expect(server.service.lockCount == 2)
                await waiter.connection.close()
                try await eventually("the abandoned waiter is dropped") { server.service.lockCount == 1 }
                #expect(try await server.locks(on: "foo").map { $0["title"] as? String } == ["holder"])

                #expect(try await server.request(.DELETE, holder).status == 204)
                #expect(try await server.locks(on: "foo").isEmpty)
                #expect(server.service.lockCount == 0)
                let fresh = try await server.acquire("foo", title: "fresh", wait: 0)
                #expect(fresh.status == 201)
                #expect(try await server.locks(on: "foo").map { $0["title"] as? String } == ["fresh"])
            }
        }

        @Test("after an abandoned waiter, the next waiter in line gets the lock")
        func nextWaiterServed() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo", title: "holder")
                let gone = try await server.park("foo", title: "gone")
                let next = try await server.park("foo", title: "next")
                await gone.connection.close()
                try await eventually("the abandoned waiter is dropped") { server.service.lockCount == 2 }
                #expect(try await server.request(.DELETE, holder).status == 204)
                let answer = try await next.answer()
                #expect(answer.status == 201)
                #expect(try await server.locks(on: "foo").map { $0["title"] as? String } == ["next"])
                await next.connection.close()
            }
        }
    }

    /// Stopping the server.
    @Suite("Graceful shutdown")
    struct Shutdown {
        @Test("shutdown answers a parked waiter with 503")
        func parkedWaiterGets503() async throws {
            var logger = Logger(label: "rdlmd-test")
            logger.logLevel = .warning
            let lockServer = try await LockServer.start(configuration: .test(), logger: logger)
            let server = TestServer(server: lockServer)
            do {
                _ = try await server.acquireLock("foo")
                let waiter = try await server.park("foo")
                async let stopped: Void = lockServer.shutdown()
                let answer = try await waiter.answer()
                await stopped
                #expect(answer.status == 503)
                #expect(!answer.body.isEmpty)
                try await waiter.connection.waitForClose()
            } catch {
                await lockServer.shutdown()
                throw error
            }
        }
    }
}
