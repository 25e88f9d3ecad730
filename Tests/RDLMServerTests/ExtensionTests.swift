import Foundation
import RDLMTestSupport
import Testing
@testable import RDLMServer

extension ServerTests {
    /// Contract Part 2: fencing tokens.
    @Suite("Fencing tokens")
    struct Fencing {
        @Test("a 201 carries RDLM-Fencing-Token, and the lock's JSON the same fencing_token")
        func tokenOnGrant() async throws {
            try await withServer { server in
                let response = try await server.acquire("foo")
                #expect(response.status == 201)
                let header = try #require(response.header("RDLM-Fencing-Token"))
                let token = try #require(UInt64(header), "token \(header)")
                let lock = try await server.request(.GET, try lockPath(response)).json()
                #expect(integer(lock["fencing_token"]) == token, "\(lock)")
            }
        }

        @Test("tokens strictly increase across grants on a resource, also through waiter handoffs")
        func tokensIncrease() async throws {
            try await withServer { server in
                var tokens: [UInt64] = []
                for _ in 0..<3 {
                    let response = try await server.acquire("foo")
                    tokens.append(try #require(response.header("RDLM-Fencing-Token").flatMap { UInt64($0) }))
                    #expect(try await server.request(.DELETE, try lockPath(response)).status == 204)
                }
                var holder = try await server.acquire("foo")
                tokens.append(try #require(holder.header("RDLM-Fencing-Token").flatMap { UInt64($0) }))
                let waiters = [try await server.park("foo", title: "a"), try await server.park("foo", title: "b")]
                for waiter in waiters {
                    #expect(try await server.request(.DELETE, try lockPath(holder)).status == 204)
                    holder = try await waiter.answer()
                    #expect(holder.status == 201)
                    tokens.append(try #require(holder.header("RDLM-Fencing-Token").flatMap { UInt64($0) }))
                    await waiter.connection.close()
                }
                #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0 < $1 }, "tokens \(tokens)")
            }
        }

        @Test("a restarted server grants tokens above every token of its predecessor")
        func tokensAcrossRestart() async throws {
            let before = try await withServer { server in
                var last: UInt64 = 0
                for _ in 0..<20 {
                    let response = try await server.acquire("foo")
                    last = try #require(response.header("RDLM-Fencing-Token").flatMap { UInt64($0) })
                    #expect(try await server.request(.DELETE, try lockPath(response)).status == 204)
                }
                return last
            }
            let after = try await withServer { server in
                let response = try await server.acquire("foo")
                return try #require(response.header("RDLM-Fencing-Token").flatMap { UInt64($0) })
            }
            #expect(after > before)
        }
    }

    /// Contract Part 2: `PATCH {lock URL}` renews a lease.
    @Suite("Refresh")
    struct Refresh {
        @Test("PATCH renews an active lock: 200 with its JSON and a later active_expires")
        func refreshMovesExpiry() async throws {
            let clock = ManualClock()
            try await withServer(clock: clock) { server in
                let path = try await server.acquireLock("foo", lifetime: 30)
                let before = try await server.request(.GET, path).json()
                clock.advance(by: .milliseconds(20))
                let response = try await server.request(.PATCH, path)
                #expect(response.status == 200)
                let after = try response.json()
                #expect(after["uid"] as? String == uid(ofLockPath: path))
                #expect(after["active"] as? Bool == true)
                let oldExpiry = try #require(before["active_expires"] as? String)
                let newExpiry = try #require(after["active_expires"] as? String)
                // Same fixed-width ISO format, so text order is time order.
                #expect(newExpiry > oldExpiry, "\(oldExpiry) -> \(newExpiry)")
                #expect(double(after["lifetime"]) == 30)
            }
        }

        @Test("PATCH with {\"lifetime\": N} sets a new lifetime")
        func refreshWithLifetime() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo", lifetime: 30)
                let response = try await server.request(.PATCH, path, body: #"{"lifetime": 600}"#)
                #expect(response.status == 200)
                let lock = try response.json()
                #expect(double(lock["lifetime"]) == 600)
                let since = try #require(parseTimestamp(lock["active_since"]))
                let expires = try #require(parseTimestamp(lock["active_expires"]))
                #expect(expires.timeIntervalSince(since) > 590)
                #expect(double(try await server.request(.GET, path).json()["lifetime"]) == 600)
            }
        }

        @Test("PATCH on a released lock is 404")
        func refreshReleased() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo")
                #expect(try await server.request(.DELETE, path).status == 204)
                let response = try await server.request(.PATCH, path)
                #expect(response.status == 404)
                #expect(!response.body.isEmpty)
            }
        }

        @Test("PATCH on a lock still waiting is 409 and does not grant it")
        func refreshWaiting() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let waiter = try await server.park("foo", title: "waiting")
                let path = try #require(link(try await server.locks(on: "foo")[1], "self"))
                let response = try await server.request(.PATCH, path)
                #expect(response.status == 409)
                #expect(!response.body.isEmpty)
                #expect(try await server.request(.GET, path).json()["active"] as? Bool == false)
                await waiter.connection.close()
            }
        }

        @Test("PATCH with a body that is not a valid lifetime is 400 and changes nothing", arguments: [
            "{", "[]", #"{"lifetime": 0}"#, #"{"lifetime": -5}"#, #"{"lifetime": "60"}"#, #"{"lifetime": 1e300}"#,
        ])
        func refreshBadBody(body: String) async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo", lifetime: 30)
                let before = try await server.request(.GET, path).json()
                expectRefusal(try await server.request(.PATCH, path, body: body), 400)
                let after = try await server.request(.GET, path).json()
                #expect(double(after["lifetime"]) == 30)
                #expect(after["active_expires"] as? String == before["active_expires"] as? String)
            }
        }

        @Test("a refreshed lock outlives its original lifetime")
        func refreshedOutlives() async throws {
            let clock = ManualClock()
            try await withServer(clock: clock) { server in
                let path = try await server.acquireLock("foo", lifetime: 4)
                #expect(try await server.request(.PATCH, path, body: #"{"lifetime": 30}"#).status == 200)
                clock.advance(by: .milliseconds(4_500))
                #expect(try await server.request(.GET, path).status == 200)
                #expect(try await server.acquire("foo", wait: 0).status == 408)
            }
        }

        @Test("an unrefreshed lock does expire after its lifetime")
        func unrefreshedExpires() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo", lifetime: 0.2)
                try await eventually("the lock expires") { server.service.lockCount == 0 }
                #expect(try await server.request(.GET, path).status == 404)
                #expect(try await server.request(.PATCH, path).status == 404)
            }
        }
    }

    /// Contract Part 2: try-lock and fractional seconds.
    @Suite("Try-lock and fractional seconds")
    struct Timing {
        @Test("wait 0 on a held resource answers 408 at once")
        func tryLockHeld() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("foo")
                let start = ContinuousClock.now
                let response = try await server.acquire("foo", wait: 0)
                #expect(response.status == 408)
                #expect(seconds(since: start) < 5)
                #expect(server.service.lockCount == 1)
            }
        }

        @Test("wait 0 on a free resource is granted")
        func tryLockFree() async throws {
            try await withServer { server in
                let response = try await server.acquire("foo", wait: 0)
                #expect(response.status == 201)
            }
        }

        @Test("a fractional lifetime expires on its deadline and the queued waiter holds from that very instant")
        func fractionalLifetime() async throws {
            let clock = ManualClock()
            try await withServer(clock: clock) { server in
                // The 201 itself carries the lock when JSON is asked for.
                let holder = try await server.request(.POST, "/locks/foo", headers: [("Accept", "application/json")], body: lockBody(lifetime: 1.5))
                #expect(holder.status == 201)
                let holderExpires = try holder.json()["active_expires"] as? String
                let waiter = try await server.park("foo", wait: 20)
                clock.advance(by: .milliseconds(1_499))
                #expect(server.service.lockCount == 2, "the holder expired early")
                clock.advance(by: .milliseconds(1))
                let answer = try await waiter.response.get()
                #expect(answer.status == 201)
                // Timing under load is the benchmarks' business; what a test pins exactly is
                // that the handover happens at the expiry instant, not at some later sweep.
                let granted = try await server.request(.GET, try lockPath(answer)).json()
                #expect(holderExpires != nil)
                #expect(granted["active_since"] as? String == holderExpires)
                await waiter.connection.close()
            }
        }

        @Test("a fractional lifetime and wait are shown as decimals")
        func fractionalShown() async throws {
            try await withServer { server in
                let path = try await server.acquireLock("foo", lifetime: 12.5, wait: 0.25)
                let lock = try await server.request(.GET, path).json()
                #expect(double(lock["lifetime"]) == 12.5)
                #expect(double(lock["wait"]) == 0.25)
            }
        }
    }
}
