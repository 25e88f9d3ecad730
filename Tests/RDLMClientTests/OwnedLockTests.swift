import Foundation
import RDLMClient
import RDLMTestSupport
import Testing

extension ClientTests {
    @Suite("OwnedLock")
    struct OwnedLocks {
        struct Boom: Error {}

        /// Acquires an owned lock and lets it go at the end of the function.
        private func holdAndDrop(_ client: RDLMClient, _ resource: String) async throws -> URL {
            let owned = try await client.acquireOwned(resource, lifetime: .seconds(60))
            return owned.lock.url
        }

        /// Acquires an owned lock and throws while holding it.
        private func holdAndThrow(_ client: RDLMClient, _ resource: String, _ url: inout URL?) async throws {
            let owned = try await client.acquireOwned(resource, lifetime: .seconds(60))
            url = owned.lock.url
            throw Boom()
        }

        @Test("deinit releases a lock that was not released")
        func deinitReleases() async throws {
            try await withDaemonAndClient { client in
                let url = try await holdAndDrop(client, "raii")
                try await eventually("the deinit's release arrived") { try await client.isGone(url) }
            }
        }

        @Test("deinit releases the lock when its owner throws")
        func deinitReleasesOnThrow() async throws {
            try await withDaemonAndClient { client in
                var url: URL?
                await #expect(throws: Boom.self) { try await holdAndThrow(client, "raii", &url) }
                let lockURL = try #require(url)
                try await eventually("the deinit's release arrived") { try await client.isGone(lockURL) }
            }
        }

        @Test("an explicit release is awaited and not repeated by deinit")
        func explicitRelease() async throws {
            try await withDaemonAndClient { client in
                var owned = try await client.acquireOwned("explicit", lifetime: .seconds(10))
                try await owned.refresh(lifetime: .seconds(60))
                let url = owned.lock.url
                #expect(owned.lock.lifetime == .seconds(60))
                try await owned.release()
                #expect(try await client.isGone(url))
                // The resource is free at once; a second release from deinit would find
                // this new holder's lock untouched anyway, since URLs are unique.
                let next = try await client.acquire("explicit", wait: .zero)
                try await client.release(next)
            }
        }

        @Test("detach gives up the automatic release")
        func detach() async throws {
            try await withDaemonAndClient { client in
                let owned = try await client.acquireOwned("detached", lifetime: .seconds(60))
                let lock = owned.detach()
                // A release from deinit would be a request nobody awaits, and shutdown
                // returns only once those are answered (within its grace period).
                await client.shutdown()
                let checker = try RDLMClient(configuration: client.configuration)
                #expect(try await checker.isGone(lock.url) == false)
                try await checker.release(lock)
                await checker.shutdown()
            }
        }
    }
}
