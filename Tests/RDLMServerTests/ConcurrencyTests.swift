import Foundation
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Many clients at once, and what the server keeps afterwards.
    @Suite("Concurrency")
    struct Concurrency {
        /// When one client held the lock, as the client saw it.
        struct Hold: Sendable {
            var granted: ContinuousClock.Instant
            var released: ContinuousClock.Instant
        }

        @Test("100 concurrent clients on one resource are all granted, and their holds never overlap")
        func hundredClients() async throws {
            try await withServer { server in
                let holds = try await withThrowingTaskGroup(of: Hold.self) { group in
                    for index in 0..<100 {
                        group.addTask {
                            let connection = try await server.connect()
                            let acquired = try await connection.execute(
                                TestRequest(.POST, "/locks/shared1", body: lockBody(title: "client \(index)", lifetime: 30, wait: 30)),
                                timeout: .seconds(40))
                            let granted = ContinuousClock.now
                            try #require(acquired.status == 201, "client \(index): \(acquired)")
                            try await Task.sleep(for: .milliseconds(2))
                            let released = ContinuousClock.now
                            let release = try await connection.execute(TestRequest(.DELETE, try lockPath(acquired)))
                            try #require(release.status == 204, "client \(index): \(release)")
                            await connection.close()
                            return Hold(granted: granted, released: released)
                        }
                    }
                    var holds: [Hold] = []
                    for try await hold in group { holds.append(hold) }
                    return holds
                }
                #expect(holds.count == 100)
                let sorted = holds.sorted { $0.granted < $1.granted }
                for (earlier, later) in zip(sorted, sorted.dropFirst()) {
                    #expect(earlier.released <= later.granted, "two clients held the lock at once")
                }
                try await eventually("every lock is gone") { server.service.lockCount == 0 }
                #expect(server.service.resourceCount == 0)
            }
        }

        @Test("after acquiring and releasing 1,000 distinct resources the server holds nothing")
        func emptyResourcesForgotten() async throws {
            try await withServer { server in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<10 {
                        group.addTask {
                            let connection = try await server.connect()
                            for index in 0..<100 {
                                let acquired = try await connection.execute(
                                    TestRequest(.POST, "/locks/r\(worker)x\(index)", body: lockBody(wait: 0)))
                                try #require(acquired.status == 201, "\(acquired)")
                                let released = try await connection.execute(TestRequest(.DELETE, try lockPath(acquired)))
                                try #require(released.status == 204, "\(released)")
                            }
                            await connection.close()
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(server.service.resourceCount == 0)
                #expect(server.service.lockCount == 0)
                let listing = try await server.request(.GET, "/resources").json()
                let listed = (listing["_embedded"] as? [String: Any])?["resources"] as? [Any]
                #expect(listed?.isEmpty ?? true)
            }
        }

        @Test("expired and timed-out locks leave no resource behind")
        func deadlinesForgetResources() async throws {
            try await withServer { server in
                // The holder outlives any stall of a loaded machine, so the waiter surely times out.
                let holder = try await server.acquireLock("foo", lifetime: 60)
                let waiter = try await server.acquire("foo", lifetime: 0.2, wait: 0.05)
                #expect(waiter.status == 408, "\(waiter)")
                _ = try await server.acquireLock("bar", lifetime: 0.2)
                try await eventually("the short lock expires") { server.service.lockCount == 1 }
                #expect(try await server.request(.DELETE, holder).status == 204)
                #expect(server.service.lockCount == 0)
                #expect(server.service.resourceCount == 0)
            }
        }
    }

    /// Table limits: refusals with 503, never a hang.
    @Suite("Capacity")
    struct Capacity {
        @Test("with maxWaitersPerResource 2, a third waiter gets 503")
        func tooManyWaiters() async throws {
            let limits = RequestLimits(table: .init(maxWaitersPerResource: 2, maxLocks: 1_000))
            try await withServer(.test(limits: limits)) { server in
                _ = try await server.acquireLock("foo")
                let first = try await server.park("foo")
                let second = try await server.park("foo")
                let third = try await server.acquire("foo", wait: 10)
                #expect(third.status == 503)
                #expect(!third.body.isEmpty)
                #expect(server.service.lockCount == 3)
                // Another resource is not affected.
                #expect(try await server.acquire("bar", wait: 0).status == 201)
                await first.connection.close()
                await second.connection.close()
            }
        }

        @Test("with maxLocks reached, another acquire gets 503 until one is released")
        func tableFull() async throws {
            let limits = RequestLimits(table: .init(maxWaitersPerResource: 100, maxLocks: 3))
            try await withServer(.test(limits: limits)) { server in
                let first = try await server.acquireLock("a")
                _ = try await server.acquireLock("b")
                _ = try await server.acquireLock("c")
                let refused = try await server.acquire("d", wait: 0)
                #expect(refused.status == 503)
                #expect(!refused.body.isEmpty)
                #expect(try await server.acquire("a", wait: 5).status == 503)
                #expect(try await server.request(.DELETE, first).status == 204)
                #expect(try await server.acquire("d", wait: 0).status == 201)
            }
        }
    }
}
