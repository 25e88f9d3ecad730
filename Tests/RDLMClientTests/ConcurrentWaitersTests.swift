import Foundation
import RDLMClient
import Synchronization
import RDLMTestSupport
import Testing

extension ClientTests {
    @Suite("concurrency")
    struct Concurrency {
        /// One grant as its waiter saw it.
        struct Grant: Sendable {
            var title: String
            var token: UInt64
        }

        /// Grants in the order they happened.
        final class GrantLog: Sendable {
            private let grants = Mutex<[Grant]>([])
            func append(_ grant: Grant) { grants.withLock { $0.append(grant) } }
            var all: [Grant] { grants.withLock { $0 } }
        }

        @Test("one client carries 1,000 blocked acquires, all served in the server's queue order")
        func thousandWaitersInOrder() async throws {
            let waiters = 1_000
            try await withDaemonAndClient { client in
                let holder = try await client.acquire("fifo", lifetime: .seconds(120), title: "holder")
                let grants = GrantLog()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<waiters {
                        group.addTask {
                            let lock = try await client.acquire(
                                "fifo", lifetime: .seconds(60), wait: .seconds(120), title: "waiter\(index)")
                            // Exclusive, so grants are recorded one at a time, in grant order.
                            grants.append(Grant(title: lock.title, token: lock.fencingToken ?? 0))
                            try await client.release(lock)
                        }
                    }

                    // All parked at once: the server's listing gives their arrival order.
                    try await eventually("all waiters are queued", timeout: .seconds(60)) {
                        try await client.locks(on: "fifo").count == waiters + 1
                    }
                    let queue = try await client.locks(on: "fifo")
                    #expect(queue.first?.title == "holder")
                    #expect(queue.dropFirst().allSatisfy { !$0.isActive })
                    let arrivalOrder = queue.dropFirst().map(\.title)
                    #expect(grants.all.isEmpty)

                    try await client.release(holder)
                    try await group.waitForAll()

                    let granted = grants.all
                    #expect(granted.count == waiters)
                    #expect(granted.map(\.title) == arrivalOrder)
                    #expect(zip(granted, granted.dropFirst()).allSatisfy { $0.token < $1.token })
                }
                #expect(try await client.resources().isEmpty)
            }
        }

        @Test("many short cycles from many tasks all succeed and leave no lock behind")
        func manyCycles() async throws {
            try await withDaemonAndClient { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<20 {
                        group.addTask {
                            for _ in 0..<50 {
                                let lock = try await client.acquire("cycle\(worker % 5)", lifetime: .seconds(10), wait: .seconds(30))
                                try await client.release(lock)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await client.resources().isEmpty)
            }
        }
    }
}
