import RDLMTestSupport
import RDLMWire
import Testing
@testable import RDLMServer

/// A scrape of `GET /metrics`: every sample by its series, `name{labels}` as written.
struct Scrape {
    var samples: [String: Double] = [:]
    var text: String

    init(_ text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
    }

    subscript(_ series: String) -> Double? { samples[series] }

    func acquires(_ outcome: String) -> Double? { samples["rdlm_acquires_total{outcome=\"\(outcome)\"}"] }
}

extension TestServer {
    func scrape(headers: [(String, String)] = []) async throws -> Scrape {
        let answer = try await request(.GET, "/metrics", headers: headers)
        try #require(answer.status == 200, "GET /metrics: \(answer)")
        #expect(answer.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        return Scrape(answer.body)
    }
}

extension ServerTests {
    /// `GET /metrics`: Prometheus's text exposition, through swift-metrics.
    @Suite("Metrics")
    struct Metrics {
        @Test("acquires are counted by outcome, with the wait, time held, releases, refreshes, expiries and admin deletes")
        func outcomes() async throws {
            let clock = ManualClock()
            try await withServer(clock: clock) { server in
                let first = try await server.acquireLock("metered", title: "secrettitle", lifetime: 30)
                let waiter = try await server.park("metered", wait: 30)
                clock.advance(by: .seconds(2))
                #expect(try await server.request(.DELETE, first).status == 204)
                let second = try lockPath(try await waiter.answer())
                #expect(try await server.request(.PATCH, second).status == 200)
                // A waiter that times out, and one deleted through its URL (409).
                let timingOut = try await server.park("metered", title: "late", wait: 1)
                clock.advance(by: .seconds(1))
                #expect(try await timingOut.answer().status == 408)
                let deleted = try await server.park("metered", title: "deleted", wait: 30)
                let deletedPath = try #require(try await server.locks(on: "metered").last?["_links"] as? [String: Any])
                let selfLink = try #require((deletedPath["self"] as? [String: Any])?["href"] as? String)
                #expect(try await server.request(.DELETE, selfLink).status == 204)
                #expect(try await deleted.answer().status == 409)
                #expect(try await server.request(.POST, "/locks/metered", body: "not json").status == 400)
                // The holder expires; an admin delete of a resource and of everything.
                clock.advance(by: .seconds(31))
                try await eventually("the holder expired") { try await server.locks(on: "metered").isEmpty }
                _ = try await server.acquireLock("other")
                #expect(try await server.request(.DELETE, "/resources/other").status == 204)
                #expect(try await server.request(.DELETE, "/resources").status == 204)

                let scrape = try await server.scrape()
                #expect(scrape.acquires("granted_at_once") == 2)
                #expect(scrape.acquires("granted_after_waiting") == 1)
                #expect(scrape.acquires("wait_timed_out") == 1)
                #expect(scrape.acquires("deleted_while_waiting") == 1)
                #expect(scrape.acquires("refused_client_error") == 1)
                #expect(scrape.acquires("refused_unavailable") == 0)
                #expect(scrape["rdlm_releases_total"] == 2, "the holder, and the waiter deleted by its URL")
                #expect(scrape["rdlm_refreshes_total"] == 1)
                #expect(scrape["rdlm_expiries_total"] == 1)
                #expect(scrape["rdlm_admin_deletes_total{scope=\"resource\"}"] == 1)
                #expect(scrape["rdlm_admin_deletes_total{scope=\"all\"}"] == 1)
                // Three grants waited: two at once (about 0 s), one after the 2 s the first held.
                #expect(scrape["rdlm_acquire_wait_seconds_count"] == 3)
                // Holds ended: released after 2 s, expired after 32 s, deleted by the admin.
                #expect(scrape["rdlm_lock_held_seconds_count"] == 3)
                #expect(scrape["rdlm_lock_held_seconds_bucket{le=\"1.0\"}"] == 1)
                #expect(scrape["rdlm_lock_held_seconds_bucket{le=\"5.0\"}"] == 2)
                #expect(scrape["rdlm_lock_held_seconds_bucket{le=\"60.0\"}"] == 3)
                #expect(scrape["rdlm_request_duration_seconds_count{endpoint=\"acquire\"}"] == 6)
                #expect(scrape["rdlm_request_duration_seconds_count{endpoint=\"refresh\"}"] == 1)
                #expect(scrape["rdlm_build_info{version=\"\(RDLMVersion.current)\",backend=\"memory\"}"] == 1)
                #expect(scrape["rdlm_journal_fsync_seconds_count"] == nil, "no journal in memory")
                #expect(scrape["rdlm_etcd_request_duration_seconds_count"] == nil)
                // No label carries a resource name, a title or a uid.
                for secret in ["metered", "secrettitle", "other", uid(ofLockPath: second)] {
                    #expect(!scrape.text.contains(secret), "\(secret) in the exposition")
                }
            }
        }

        @Test("the gauges are read at each scrape: held, waiting, resources, open connections")
        func gauges() async throws {
            try await withServer { server in
                _ = try await server.acquireLock("a")
                _ = try await server.acquireLock("b", mode: "shared")
                _ = try await server.acquireLock("b", mode: "shared")
                let waiter = try await server.park("a")
                let scrape = try await server.scrape()
                #expect(scrape["rdlm_locks_held"] == 3)
                #expect(scrape["rdlm_requests_waiting"] == 1)
                #expect(scrape["rdlm_resources"] == 2)
                // The waiter's connection and the scrape's own, at least.
                #expect((scrape["rdlm_open_connections"] ?? 0) >= 2)
                await waiter.connection.close()
                try await eventually("the waiter left") { try await server.scrape()["rdlm_requests_waiting"] == 0 }
                #expect(try await server.scrape().acquires("abandoned") == 1)
            }
        }

        @Test("/metrics follows the admin setting: open, forbidden (403), or Basic credentials (401 without)")
        func adminRule() async throws {
            try await withServer(.test(admin: .forbidden)) { server in
                let answer = try await server.request(.GET, "/metrics")
                #expect(answer.status == 403)
            }
            try await withServer(.test(admin: .basic(credentials: ["prom:scrape"]))) { server in
                let refused = try await server.request(.GET, "/metrics")
                #expect(refused.status == 401)
                #expect(refused.header("WWW-Authenticate") == "Basic realm=\"rdlm\"")
                #expect(try await server.request(.GET, "/metrics", headers: [("Authorization", basic("prom:wrong"))]).status == 401)
                let scrape = try await server.scrape(headers: [("Authorization", basic("prom:scrape"))])
                #expect(scrape["rdlm_locks_held"] == 0)
                #expect(try await server.request(.POST, "/metrics").status == 405)
            }
        }

        @Test("with --data-dir, fsync latency is a histogram")
        func journal() async throws {
            try await withDataDirectory { directory in
                try await withServer(.persistent(directory)) { server in
                    _ = try await server.acquireLock("durable")
                    let scrape = try await server.scrape()
                    #expect((scrape["rdlm_journal_fsync_seconds_count"] ?? 0) >= 1)
                    #expect(scrape["rdlm_build_info{version=\"\(RDLMVersion.current)\",backend=\"data-dir\"}"] == 1)
                }
            }
        }
    }
}
