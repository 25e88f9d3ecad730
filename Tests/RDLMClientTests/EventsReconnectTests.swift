import Foundation
@testable import RDLMClient
import RDLMTestSupport
import Synchronization
import Testing

extension ClientTests {
    /// The reconnection rules of `events(resource:)`, against servers that misbehave on cue.
    @Suite("events(resource:) reconnecting")
    struct EventsReconnecting {
        static let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

        @Test("a closed stream, then a 503: retried with Last-Event-ID after the server's retry; a reset and snapshot follow")
        func lastEventIDAndServerErrors() async throws {
            let attempts = Atomic<Int>(0)
            let server = try ScriptedServer { exchange in
                switch attempts.add(1, ordering: .relaxed).newValue {
                case 1:
                    // CRLF line ends, a comment, data on two lines, then the connection closes.
                    exchange.send(Self.head + "retry: 50\r\n: hello\r\n\r\nid: e-7\r\nevent: snapshot\r\ndata: {\"time\":\"2026-12-04T02:23:56.574902Z\",\r\ndata: \"resources\":[]}\r\n\r\n")
                case 2:
                    let body = "{\"error\":\"not available yet\",\"status\":503}"
                    exchange.send("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body)
                default:
                    exchange.send(Self.head + "event: reset\ndata: {\"reason\":\"new epoch\"}\n\nid: f-0\nevent: snapshot\ndata: {\"time\":\"2026-12-04T02:24:00Z\",\"resources\":[{\"name\":\"r\",\"locks\":[{\"uid\":\"00112233445566778899aabbccddeeff\",\"title\":\"t\",\"lifetime\":30,\"wait\":0,\"mode\":\"shared\",\"active\":true,\"fencing_token\":9,\"_links\":{\"self\":{\"href\":\"/locks/r/00112233445566778899aabbccddeeff\"}}}]}]}\n\nevent: unknown\ndata: {}\n\n")
                    exchange.awaitAcknowledged()
                    usleep(200_000)
                }
            }
            defer { server.stop() }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let log = EventLog()
            let watcher = Task { await log.record(client.events()) }
            try await log.wait(until: "the second snapshot came") { _ in log.snapshots.count == 2 }
            watcher.cancel()
            await client.shutdown()
            let events = log.events
            guard events.count >= 5, case .snapshot(let first) = events[0], case .reconnecting(let closed, let pause) = events[1],
                  case .reconnecting(let unavailable, _) = events[2], case .reset(let reason) = events[3],
                  case .snapshot(let second) = events[4] else {
                throw TestFailure("unexpected events: \(events)")
            }
            #expect(first.id == "e-7" && first.locks.isEmpty && first.json == "{\"time\":\"2026-12-04T02:23:56.574902Z\",\n\"resources\":[]}")
            #expect(closed.contains("closed the stream") && pause == .milliseconds(50))
            #expect(unavailable.contains("503") && unavailable.contains("not available yet"))
            #expect(reason == "new epoch")
            #expect(second.id == "f-0" && second.locks.map(\.uid) == ["00112233445566778899aabbccddeeff"])
            #expect(second.locks.first?.mode == .shared && second.locks.first?.fencingToken == 9)
            #expect(second.locks.first?.url == URL(string: server.url.absoluteString + "/locks/r/00112233445566778899aabbccddeeff"))
            let requests = server.wholeRequests
            #expect(requests.count >= 3)
            #expect(requests.allSatisfy { $0.hasPrefix("GET /events HTTP/1.1\r\n") })
            #expect(!requests[0].contains("Last-Event-ID"))
            #expect(requests[1].contains("\r\nLast-Event-ID: e-7\r\n") && requests[2].contains("\r\nLast-Event-ID: e-7\r\n"))
        }

        @Test("a server that refuses connections is skipped for the next one")
        func failover() async throws {
            let dead = try await closedPortURL()
            let server = try await startDaemon()
            let live = URL(string: "http://127.0.0.1:\(server.port)")!
            let client = try RDLMClient(configuration: .init(servers: [dead, live]))
            let log = EventLog()
            let watcher = Task { await log.record(client.events()) }
            try await log.wait(until: "a snapshot came") { _ in !log.snapshots.isEmpty }
            watcher.cancel()
            await client.shutdown()
            await server.shutdown()
            guard case .reconnecting(let reason, let pause) = log.events.first else { throw TestFailure("events: \(log.events)") }
            #expect(reason.contains(dead.absoluteString) && pause == .zero)
            #expect(log.snapshots.first?.locks.first?.url.absoluteString.hasPrefix(live.absoluteString) ?? true)
        }

        @Test("a stream silent for longer than idleTimeout counts as broken and is reopened with Last-Event-ID")
        func idleGuard() async throws {
            let gate = Gate()
            let server = try ScriptedServer { exchange in
                exchange.send(Self.head + "id: e-1\nevent: snapshot\ndata: {\"resources\":[]}\n\n")
                // Then nothing, the connection open, until the test ends.
                _ = gate.pass(timeout: .seconds(60))
            }
            defer {
                for _ in 0..<8 { gate.open() }
                server.stop()
            }
            let client = try RDLMClient(configuration: .init(baseURL: server.url))
            let log = EventLog()
            let watcher = Task { await log.record(client.events(idleTimeout: .seconds(1))) }
            try await log.wait(until: "the silent stream was given up") { _ in server.requests.count >= 2 }
            watcher.cancel()
            await client.shutdown()
            guard case .reconnecting(let reason, _) = log.events.dropFirst().first else { throw TestFailure("events: \(log.events)") }
            #expect(reason.contains("broke"))
            #expect(server.wholeRequests[1].contains("\r\nLast-Event-ID: e-1\r\n"))
        }
    }
}
