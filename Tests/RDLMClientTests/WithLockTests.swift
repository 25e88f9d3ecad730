import Foundation
import RDLMClient
import Synchronization
import RDLMTestSupport
import Testing

extension ClientTests {
    @Suite("withLock")
    struct WithLock {
        struct Boom: Error, Equatable {}

        @Test("releases the lock when the body returns, and returns its value")
        func releasesOnReturn() async throws {
            try await withDaemonAndClient { client in
                let url = Mutex<URL?>(nil)
                let value = try await client.withLock("scoped") { lock in
                    url.withLock { $0 = lock.url }
                    return 42
                }
                #expect(value == 42)
                let lockURL = try #require(url.withLock { $0 })
                #expect(try await client.isGone(lockURL))
                #expect(try await client.resources().isEmpty)
            }
        }

        @Test("releases the lock when the body throws, and rethrows")
        func releasesOnThrow() async throws {
            try await withDaemonAndClient { client in
                let url = Mutex<URL?>(nil)
                await #expect(throws: Boom()) {
                    try await client.withLock("scoped") { lock in
                        url.withLock { $0 = lock.url }
                        throw Boom()
                    }
                }
                let lockURL = try #require(url.withLock { $0 })
                #expect(try await client.isGone(lockURL))
            }
        }

        @Test("releases the lock when the task is cancelled")
        func releasesOnCancel() async throws {
            try await withDaemonAndClient { client in
                let holding = Signal<URL>()
                let task = Task {
                    try await client.withLock("scoped", lifetime: .seconds(30)) { lock in
                        holding.send(lock.url)
                        try await Task.sleep(for: .seconds(60))
                    }
                }
                let url = try await holding.first()
                #expect(try await client.isGone(url) == false)
                task.cancel()
                await #expect(throws: CancellationError.self) { try await task.value }
                #expect(try await client.isGone(url))
            }
        }

        @Test("cancelling a waiting acquire withdraws it from the server's queue")
        func cancelWhileWaiting() async throws {
            try await withDaemonAndClient { client in
                let held = try await client.acquire("queue")
                let waiter = Task { try await client.acquire("queue", wait: .seconds(60)) }
                try await eventually("the waiter is queued") { try await client.locks(on: "queue").count == 2 }
                let cancelled = ContinuousClock.now
                waiter.cancel()
                await #expect(throws: CancellationError.self) { try await waiter.value }
                #expect(ContinuousClock.now - cancelled < .seconds(5))
                try await eventually("the server dropped the waiter") { try await client.locks(on: "queue").count == 1 }
                try await client.release(held)
                #expect(try await client.resources().isEmpty)
            }
        }

        @Test("keep-alive holds the lock for several lifetimes with the same fencing token")
        func keepAlive() async throws {
            try await withDaemonAndClient { client in
                let started = ContinuousClock.now
                let (granted, url) = try await client.withLock("kept", lifetime: .seconds(1)) { lock in
                    try await Task.sleep(for: .milliseconds(3_500))
                    let details = try await client.lock(at: lock.url)
                    #expect(details.isActive)
                    #expect(details.fencingToken == lock.fencingToken)
                    return (lock, lock.url)
                }
                #expect(ContinuousClock.now - started >= .milliseconds(3_500))
                #expect(granted.fencingToken != nil)
                #expect(try await client.isGone(url))
            }
        }

        @Test("an admin deleting the lock cancels the body and throws lockLost, not cancelling the caller")
        func lockLost() async throws {
            try await withDaemonAndClient { client in
                let holding = Signal<Void>()
                let bodyCancelled = Atomic<Bool>(false)
                let task = Task { () -> Bool in
                    await #expect(throws: RDLMError.lockLost) {
                        try await client.withLock("fragile", lifetime: .seconds(1.5)) { _ in
                            holding.send(())
                            do {
                                try await Task.sleep(for: .seconds(60))
                            } catch {
                                bodyCancelled.store(true, ordering: .sequentiallyConsistent)
                                throw error
                            }
                        }
                    }
                    return Task.isCancelled
                }
                try await holding.first()
                let deleted = ContinuousClock.now
                try await client.deleteResource("fragile")
                let callerCancelled = await task.value
                #expect(ContinuousClock.now - deleted < .seconds(10))
                let wasBodyCancelled = bodyCancelled.load(ordering: .sequentiallyConsistent)
                #expect(wasBodyCancelled)
                #expect(callerCancelled == false)
                #expect(try await client.resources().isEmpty)
            }
        }

        @Test("a lockLost thrown by a nested withLock still releases the outer lock")
        func nestedLockLost() async throws {
            try await withDaemonAndClient { client in
                let outerURL = Signal<URL>()
                let holdingInner = Signal<Void>()
                let task = Task {
                    try await client.withLock("outer") { outer in
                        outerURL.send(outer.url)
                        try await client.withLock("inner", lifetime: .seconds(1.5)) { _ in
                            holdingInner.send(())
                            try await Task.sleep(for: .seconds(60))
                        }
                    }
                }
                try await holdingInner.first()
                try await client.deleteResource("inner")
                await #expect(throws: RDLMError.lockLost) { try await task.value }
                #expect(try await client.isGone(try await outerURL.first()))
            }
        }

        @Test("without keep-alive, a lease that ran out is reported as lockLost at release")
        func expiredWithoutKeepAlive() async throws {
            try await withDaemonAndClient { client in
                await #expect(throws: RDLMError.lockLost) {
                    try await client.withLock("short", lifetime: .milliseconds(200), keepAlive: false) { lock in
                        try await eventually("the lease ran out") { try await client.isGone(lock.url) }
                    }
                }
            }
        }
    }
}
