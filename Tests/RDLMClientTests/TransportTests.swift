import Foundation
@testable import RDLMClient
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

        @Test("cancelling one request leaves the other kept-alive connections in use")
        func cancellationKeepsOtherConnections() async throws {
            try await withDaemonAndClient { client in
                let warm = try await client.transport.execute(client.makeRequest(.get, client.base + "/", admin: false))
                #expect(warm.status == 200)
                let held = try await client.acquire("closing")
                let waiter = Task { try await client.acquire("closing", wait: .seconds(60)) }
                try await waitUntil("the waiter is queued") { try await client.locks(on: "closing").count == 2 }
                waiter.cancel()
                await #expect(throws: CancellationError.self) { try await waiter.value }
                try await client.release(held)
                let after = try await client.transport.execute(client.makeRequest(.get, client.base + "/", admin: false))
                #expect(after.status == 200)
                #expect(after.connectionsOpened == 0)
            }
        }

        @Test("tasks that prefer the client's curl thread acquire, hold and release locks")
        func tasksOnTheCurlThread() async throws {
            try await withDaemonAndClient { client in
                let tokens = try await withThrowingTaskGroup(of: UInt64.self) { group in
                    for worker in 0..<4 {
                        group.addTask(executorPreference: client.taskExecutor) {
                            var last: UInt64 = 0
                            for _ in 0..<25 {
                                let lock = try await client.acquire("onthread\(worker)", lifetime: .seconds(10))
                                last = lock.fencingToken ?? 0
                                try await client.release(lock)
                            }
                            let lastToken = last
                            return try await client.withLock("onthread", lifetime: .milliseconds(600)) { lock in
                                try await Task.sleep(for: .milliseconds(400))
                                return max(lastToken, lock.fencingToken ?? 0)
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(tokens.count == 4)
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
            #expect(RequestBody.number(.microseconds(1_500_001)) == "1.500001")
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
