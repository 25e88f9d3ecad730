import Foundation
import RDLMClient
import RDLMTestSupport
import Testing

extension ClientTests {
    @Suite("acquire, release, refresh, inspect")
    struct AcquireRelease {
        @Test("acquire returns the lock's URL, uid and fencing token, and release deletes it")
        func acquireThenRelease() async throws {
            try await withDaemonAndClient { client in
                let lock = try await client.acquire("alpha", lifetime: .seconds(30))
                #expect(lock.resource == "alpha")
                #expect(lock.uid.count == 32)
                #expect(lock.url.absoluteString.hasSuffix("/locks/alpha/\(lock.uid)"))
                #expect(lock.fencingToken != nil)
                #expect(lock.expiry > .now + .seconds(20))

                let details = try await client.lock(at: lock.url)
                #expect(details.isActive)
                #expect(details.uid == lock.uid)
                #expect(details.fencingToken == lock.fencingToken)
                #expect(details.lifetime == .seconds(30))
                #expect(details.activeExpires != nil)

                try await client.release(lock)
                #expect(try await client.isGone(lock.url))
                await #expect(throws: RDLMError.notFound) { try await client.release(lock) }
            }
        }

        @Test("each grant's fencing token is greater than the one before")
        func fencingTokensIncrease() async throws {
            try await withDaemonAndClient { client in
                var previous: UInt64 = 0
                for _ in 0..<5 {
                    let lock = try await client.acquire("tokens")
                    let token = try #require(lock.fencingToken)
                    #expect(token > previous)
                    previous = token
                    try await client.release(lock)
                }
            }
        }

        @Test("the default title names user, pid, program, library and host")
        func defaultTitle() async throws {
            let title = RDLMClient.Configuration.processTitle
            #expect(title.contains("#\(ProcessInfo.processInfo.processIdentifier)("))
            #expect(title.contains(" with RDLMClient(\(RDLMClient.version)) @"))
            try await withDaemonAndClient { client in
                let lock = try await client.acquire("titled")
                #expect(try await client.lock(at: lock.url).title == title)
                let named = try await client.acquire("titled2", title: "nightly \"backup\"\n")
                #expect(try await client.lock(at: named.url).title == "nightly \"backup\"\n")
            }
        }

        @Test("shared locks coexist; an exclusive try-lock then times out")
        func sharedLocks() async throws {
            try await withDaemonAndClient { client in
                let first = try await client.acquire("dataset", wait: .zero, mode: .shared)
                let second = try await client.acquire("dataset", wait: .zero, mode: .shared)
                #expect(try await client.lock(at: second.url).mode == .shared)
                await #expect(throws: RDLMError.waitTimeout) {
                    try await client.acquire("dataset", wait: .zero, mode: .exclusive)
                }
                try await client.release(first)
                try await client.release(second)
                let exclusive = try await client.acquire("dataset", wait: .zero)
                try await client.release(exclusive)
            }
        }

        @Test("refresh moves the expiry; a released lock cannot be refreshed")
        func refresh() async throws {
            try await withDaemonAndClient { client in
                let lock = try await client.acquire("lease", lifetime: .seconds(2))
                let before = try #require(try await client.lock(at: lock.url).activeExpires)
                let refreshed = try await client.refresh(lock, lifetime: .seconds(60))
                #expect(refreshed.expiry > lock.expiry + .seconds(50))
                #expect(refreshed.lifetime == .seconds(60))
                #expect(refreshed.fencingToken == lock.fencingToken)
                let after = try #require(try await client.lock(at: lock.url).activeExpires)
                #expect(after.timeIntervalSince(before) > 50)

                try await client.release(refreshed)
                await #expect(throws: RDLMError.notFound) { try await client.refresh(lock) }
            }
        }

        @Test("a lock known only by its URL can be refreshed and released")
        func byURL() async throws {
            try await withDaemonAndClient { client in
                let lock = try await client.acquire("byurl", lifetime: .seconds(2))
                let renewed = try await client.refresh(at: lock.url, lifetime: .seconds(120))
                #expect(renewed.isActive && renewed.uid == lock.uid && renewed.url == lock.url)
                #expect(renewed.lifetime == .seconds(120))
                #expect(renewed.fencingToken == lock.fencingToken)
                let kept = try await client.refresh(at: lock.url)
                #expect(kept.lifetime == .seconds(120), "no lifetime keeps the lock's own")
                try await client.release(at: lock.url)
                #expect(try await client.isGone(lock.url))
                await #expect(throws: RDLMError.notFound) { try await client.release(at: lock.url) }
                await #expect(throws: RDLMError.notFound) { try await client.refresh(at: lock.url) }
            }
        }

        @Test("admin listings show holders then waiters; deleteAll empties the table")
        func adminListings() async throws {
            try await withDaemonAndClient { client in
                let held = try await client.acquire("listed", title: "holder")
                let waiter = Task { try await client.acquire("listed", wait: .seconds(30), title: "waiter") }
                try await eventually("the waiter is queued") { try await client.locks(on: "listed").count == 2 }
                let locks = try await client.locks(on: "listed")
                #expect(locks.map(\.title) == ["holder", "waiter"])
                #expect(locks.map(\.isActive) == [true, false])
                #expect(locks[0].url == held.url)
                #expect(locks[1].waitExpires != nil)
                #expect(try await client.resources() == ["listed"])

                try await client.deleteAll()
                await #expect(throws: RDLMError.deleted) { try await waiter.value }
                #expect(try await client.resources().isEmpty)
                #expect(try await client.locks(on: "listed").isEmpty)
            }
        }
    }
}
