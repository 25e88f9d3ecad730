import Foundation
@testable import RDLMClient
import RDLMTestSupport
import Testing

extension ClientTests {
    @Suite("curl transport")
    struct Transport {
        @Test("sequential requests reuse one kept-alive connection")
        func connectionReuse() async throws {
            try await withDaemonAndClient { client in
                var opened = 0
                for _ in 0..<20 {
                    let lock = try await client.acquire("reuse")
                    try await client.release(lock)
                    let response = try await client.transport.execute(client.makeRequest(.get, client.base + "/resources", admin: true))
                    #expect(response.status == 200)
                    opened += response.connectionsOpened
                }
                #expect(opened <= 1)
            }
        }

        /// Easy handles are kept between requests without `curl_easy_reset`: each request
        /// must still go out as itself, whatever the handle sent before.
        @Test("a reused easy handle carries nothing over from the request before")
        func handleReuseCarriesNothingOver() async throws {
            let server = try ScriptedServer { exchange in
                if exchange.requestLine.hasPrefix("POST ") {
                    exchange.answer("201 Created", headers: ["Location: http://127.0.0.1:\(exchange.port)/locks/reuse/\(LostGrants.uid)"])
                } else {
                    exchange.answer("204 No Content")
                }
            }
            defer { server.stop() }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let url = URL(string: "\(server.url)/locks/reuse/\(LostGrants.uid)")!
            // One at a time, so that each request takes the handle the one before left.
            let lock = try await client.acquire("reuse", lifetime: .seconds(7), wait: .seconds(3))
            try await client.release(lock)
            _ = try? await client.lock(at: url)
            _ = try? await client.refresh(at: url, lifetime: .seconds(9))
            _ = try? await client.lock(at: url)
            await client.shutdown()

            let sent = server.wholeRequests
            try #require(sent.count == 5, "\(sent)")
            let (post, delete, get, patch, secondGet) = (sent[0], sent[1], sent[2], sent[3], sent[4])
            #expect(post.hasPrefix("POST /locks/reuse HTTP/1.1\r\n") && post.contains("\"lifetime\": 7"), "\(post)")
            #expect(delete.hasPrefix("DELETE /locks/reuse/\(LostGrants.uid) HTTP/1.1\r\n"), "\(delete)")
            #expect(patch.hasPrefix("PATCH /locks/reuse/\(LostGrants.uid) HTTP/1.1\r\n") && patch.contains("\"lifetime\": 9"), "\(patch)")
            for request in [get, secondGet] {
                #expect(request.hasPrefix("GET /locks/reuse/\(LostGrants.uid) HTTP/1.1\r\n"), "\(request)")
            }
            // Neither the DELETE nor the GETs carry the body of an earlier POST or PATCH.
            for request in [delete, get, secondGet] {
                #expect(!request.lowercased().contains("content-length") && request.hasSuffix("\r\n\r\n"), "\(request)")
            }
        }

        @Test("cancelling one request leaves the other kept-alive connections in use")
        func cancellationKeepsOtherConnections() async throws {
            try await withDaemonAndClient { client in
                let warm = try await client.transport.execute(client.makeRequest(.get, client.base + "/", admin: false))
                #expect(warm.status == 200)
                let held = try await client.acquire("closing")
                let waiter = Task { try await client.acquire("closing", wait: .seconds(60)) }
                try await eventually("the waiter is queued") { try await client.locks(on: "closing").count == 2 }
                waiter.cancel()
                await #expect(throws: CancellationError.self) { try await waiter.value }
                try await client.release(held)
                let after = try await client.transport.execute(client.makeRequest(.get, client.base + "/", admin: false))
                #expect(after.status == 200)
                #expect(after.connectionsOpened == 0)
            }
        }

        @Test("tasks that prefer the client's curl thread run there, and acquire, hold and release locks")
        func tasksOnTheCurlThread() async throws {
            try await withDaemonAndClient { client in
                #expect(currentThreadName() != CurlTransport.threadName)
                let runs = try await withThrowingTaskGroup(of: CurlThreadRun.self) { group in
                    for worker in 0..<4 {
                        group.addTask(executorPreference: client.taskExecutor) {
                            var run = CurlThreadRun()
                            for _ in 0..<25 {
                                run.threads.insert(currentThreadName())
                                let lock = try await client.acquire("onthread\(worker)", lifetime: .seconds(10))
                                run.threads.insert(currentThreadName())
                                run.tokens.append(try #require(lock.fencingToken))
                                try await client.release(lock)
                            }
                            let (token, thread) = try await client.withLock("onthread", lifetime: .milliseconds(600)) { lock in
                                // Holds the lock a while, so the other workers queue behind it.
                                try await Task.sleep(for: .milliseconds(400))
                                return (try #require(lock.fencingToken), currentThreadName())
                            }
                            run.sharedToken = token
                            run.threads.insert(thread)
                            run.threads.insert(currentThreadName())
                            return run
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(runs.count == 4)
                for run in runs {
                    #expect(run.threads == [CurlTransport.threadName])
                    #expect(run.tokens.count == 25)
                    #expect(zip(run.tokens, run.tokens.dropFirst()).allSatisfy { $0 < $1 })
                }
                #expect(Set(runs.map(\.sharedToken)).count == 4)
                #expect(try await client.resources().isEmpty)
            }
        }

        /// What one worker on the curl thread saw.
        struct CurlThreadRun: Sendable {
            var threads: Set<String> = []
            var tokens: [UInt64] = []
            var sharedToken: UInt64 = 0
        }

        @Test("concurrent acquire and release cycles open at most one connection per task")
        func concurrentCyclesReuseConnections() async throws {
            let workers = 10
            try await withDaemonAndClient { client in
                let opened = try await withThrowingTaskGroup(of: Int.self) { group in
                    for worker in 0..<workers {
                        group.addTask {
                            var opened = 0
                            for _ in 0..<30 {
                                let body = RequestBody.acquire(title: "reuse", lifetime: .seconds(10), wait: .seconds(30), mode: .exclusive)
                                let grant = try await client.transport.execute(
                                    client.makeRequest(.post, client.base + "/locks/reuse\(worker)", admin: false, body: body))
                                #expect(grant.status == 201)
                                let location = try #require(grant.header("location"))
                                let release = try await client.transport.execute(client.makeRequest(.delete, location, admin: false))
                                #expect(release.status == 204)
                                opened += grant.connectionsOpened + release.connectionsOpened
                            }
                            return opened
                        }
                    }
                    return try await group.reduce(0, +)
                }
                // 600 requests; never more than `workers` of them in flight at once.
                #expect(opened >= 1 && opened <= workers)
                #expect(try await client.resources().isEmpty)
            }
        }

        @Test("a task on the curl thread still finishes after the client shut down")
        func curlThreadTaskOutlivesShutdown() async throws {
            let client = try RDLMClient(configuration: .init(baseURL: try await closedPortURL()))
            let started = Signal<Void>()
            let task = Task(executorPreference: client.taskExecutor) { () -> Int in
                started.send(())
                try? await Task.sleep(for: .milliseconds(300))
                await #expect(throws: RDLMError.clientShutdown) { try await client.resources() }
                return 7
            }
            try await started.first()
            await client.shutdown()
            #expect(await task.value == 7)
        }

        @Test("request bodies are JSON with escaped titles and microsecond durations")
        func requestBodies() {
            let body = RequestBody.acquire(title: "a \"b\"\\\n\u{1}é", lifetime: .milliseconds(250), wait: .seconds(20), mode: .shared)
            #expect(String(decoding: body, as: UTF8.self)
                == #"{"title": "a \"b\"\\\n\u0001é", "lifetime": 0.25, "wait": 20, "mode": "shared"}"#)
            let exclusive = RequestBody.acquire(title: "t", lifetime: .seconds(300), wait: .zero, mode: .exclusive)
            #expect(String(decoding: exclusive, as: UTF8.self) == #"{"title": "t", "lifetime": 300, "wait": 0}"#)
            #expect(String(decoding: RequestBody.refresh(lifetime: .microseconds(1_500_001)), as: UTF8.self) == #"{"lifetime": 1.500001}"#)
        }

        @Test("server timestamps parse with or without a zone designator")
        func timestamps() throws {
            let withZone = try #require(ServerTimestamp.parse("2013-01-22T23:01:16.771799Z"))
            let without = try #require(ServerTimestamp.parse("2013-01-22T23:01:16"))
            #expect(without.timeIntervalSince1970 == 1_358_895_676)
            #expect(abs(withZone.timeIntervalSince(without) - 0.771799) < 1e-6)
            #expect(ServerTimestamp.parse("yesterday") == nil)
        }
    }
}
