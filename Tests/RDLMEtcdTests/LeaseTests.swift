import Foundation
import RDLMEtcd
import RDLMTestSupport
import Testing

extension EtcdTests {
    @Suite("leases")
    struct LeaseTests {
        @Test("a lease asked for with TTL 1 comes back with etcd's minimum, 2 s or more")
        func minimumTTL() async throws {
            try await EtcdCluster.withClient { client in
                let lease = try await client.grantLease(ttl: 1).get()
                #expect(lease.id != 0)
                #expect(lease.ttl >= 2)
                try await client.revokeLease(lease.id).get()
            }
        }

        @Test("keepAlive renews to the full TTL; timeToLive says what is left")
        func keepAliveAndTimeToLive() async throws {
            try await EtcdCluster.withClient { client in
                let lease = try await client.grantLease(ttl: 10).get()
                #expect(try await client.keepAlive(lease.id).get() == 10)
                let left = try await client.timeToLive(lease.id).get()
                #expect(left > 0 && left <= 10)
                try await client.revokeLease(lease.id).get()
            }
        }

        @Test("revoking a lease deletes its keys; the lease is gone after")
        func revokeDeletesKeys() async throws {
            try await EtcdCluster.withClient { client in
                let prefix = EtcdCluster.uniquePrefix("lease")
                let lease = try await client.grantLease(ttl: 30).get()
                _ = try await client.put(prefix + "a", value: "x".bytes, lease: lease.id).get()
                _ = try await client.put(prefix + "b", value: "y".bytes, lease: lease.id).get()
                let attached = try await client.range(prefix, rangeEnd: EtcdKey.prefixEnd(prefix)).get().result
                #expect(attached.kvs.map(\.lease) == [lease.id, lease.id])
                try await client.revokeLease(lease.id).get()
                #expect(try await client.range(prefix, rangeEnd: EtcdKey.prefixEnd(prefix)).get().result.count == 0)
                #expect(try await client.timeToLive(lease.id).get() == -1)
                await #expect(throws: EtcdError.rejected("lease not found")) { try await client.keepAlive(lease.id).get() }
            }
        }

        @Test("a key cannot be put on a lease that does not exist")
        func putOnMissingLease() async throws {
            try await EtcdCluster.withClient { client in
                let error = await #expect(throws: EtcdError.self) {
                    try await client.put(EtcdCluster.uniquePrefix("nolease") + "k", value: [], lease: 0x7EAD_BEEF).get()
                }
                guard case .rejected(let message)? = error else { Issue.record("not rejected: \(String(describing: error))"); return }
                #expect(message.contains("lease not found"))
            }
        }

        @Test("a lease that is not renewed expires, and its keys with it")
        func expiry() async throws {
            try await EtcdCluster.withClient { client in
                let key = EtcdCluster.uniquePrefix("expiry") + "k"
                let lease = try await client.grantLease(ttl: 2).get()
                _ = try await client.put(key, value: [], lease: lease.id).get()
                try await eventually("the lease's key is gone", timeout: .seconds(10)) {
                    try await client.range(key).get().result.count == 0
                }
                #expect(try await client.timeToLive(lease.id).get() == -1)
            }
        }
    }
}
