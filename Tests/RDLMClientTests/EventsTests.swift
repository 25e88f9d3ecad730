import Foundation
import Logging
@testable import RDLMClient
import RDLMServer
import RDLMTestSupport
import Synchronization
import Testing

/// What a watching task has received so far, for tests to poll.
final class EventLog: Sendable {
    enum Ending: Sendable {
        case finished
        case failed(any Error)
    }

    private let state = Mutex<(events: [RDLMEvent], ending: Ending?)>(([], nil))

    var events: [RDLMEvent] { state.withLock { $0.events } }
    var ending: Ending? { state.withLock { $0.ending } }
    var changes: [RDLMChange] {
        events.compactMap { if case .change(let change) = $0 { change } else { nil } }
    }
    var snapshots: [RDLMSnapshot] {
        events.compactMap { if case .snapshot(let snapshot) = $0 { snapshot } else { nil } }
    }

    /// Reads `stream` to its end.
    func record(_ stream: AsyncThrowingStream<RDLMEvent, any Error>) async {
        do {
            for try await event in stream { state.withLock { $0.events.append(event) } }
            state.withLock { $0.ending = .finished }
        } catch {
            state.withLock { $0.ending = .failed(error) }
        }
    }

    /// Waits until `condition` holds for the events so far.
    func wait(until what: String, _ condition: @escaping ([RDLMEvent]) -> Bool) async throws {
        try await eventually(what) { condition(self.events) }
    }

    /// Waits until at least `count` changes came, and returns them.
    func changes(count: Int) async throws -> [RDLMChange] {
        try await eventually("\(count) changes came") { self.changes.count >= count }
        return changes
    }
}

/// An in-process rdlmd for the event tests: its port can be reused by the next one (a
/// restart), and its open streams counted.
func startDaemon(port: Int = 0, admin: AdminAuthentication = .open) async throws -> LockServer {
    var logger = Logger(label: "rdlmd-events-test")
    logger.logLevel = .warning
    var configuration = ServerConfiguration(host: "127.0.0.1", port: port, adminAuthentication: admin, threads: 2)
    configuration.events.heartbeat = .seconds(1)
    return try await LockServer.start(configuration: configuration, logger: logger)
}

extension RDLMClient {
    /// The daemon's `rdlm_event_streams` gauge: the `/events` streams open now.
    func openEventStreams() async throws -> Int {
        let response = try await transport.execute(makeRequest(.get, base + "/metrics", admin: true))
        let text = String(decoding: response.body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("rdlm_event_streams ") }
        return line.flatMap { Int(Double($0.split(separator: " ")[1]) ?? -1) } ?? -1
    }
}

extension ClientTests {
    @Suite("events(resource:) against live daemons")
    struct Events {
        func withDaemon<Result>(
            admin: AdminAuthentication = .open, credentials: RDLMClient.AdminCredentials? = nil,
            _ body: (RDLMClient, LockServer) async throws -> Result
        ) async throws -> Result {
            let server = try await startDaemon(admin: admin)
            let client = try RDLMClient(configuration: .init(
                baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, adminCredentials: credentials))
            do {
                let result = try await body(client, server)
                await client.shutdown()
                await server.shutdown()
                return result
            } catch {
                await client.shutdown()
                await server.shutdown()
                throw error
            }
        }

        @Test("a snapshot of the locks there are, then acquire, wait, release and handoff in order")
        func snapshotThenChangesInOrder() async throws {
            try await withDaemon { client, _ in
                let first = try await client.acquire("deploy", title: "first")
                let log = EventLog()
                let watcher = Task { await log.record(client.events()) }
                defer { watcher.cancel() }
                try await log.wait(until: "the snapshot came") { !$0.isEmpty }
                guard case .snapshot(let snapshot) = log.events[0] else { throw TestFailure("the first event is \(log.events[0])") }
                #expect(snapshot.locks.map(\.uid) == [first.uid])
                #expect(snapshot.locks.first?.fencingToken == first.fencingToken)
                #expect(snapshot.locks.first?.isActive == true && snapshot.locks.first?.title == "first")
                #expect(snapshot.json.hasPrefix("{\"time\":"))

                let waiter = Task { try await client.acquire("deploy", wait: .seconds(30), mode: .exclusive, title: "second") }
                _ = try await log.changes(count: 1)
                try await client.release(first)
                let second = try await waiter.value
                try await client.release(second)

                let changes = try await log.changes(count: 4)
                #expect(changes.map(\.kind) == [.waiting, .released, .granted, .released])
                #expect(changes.map(\.lock.uid) == [second.uid, first.uid, second.uid, second.uid])
                #expect(changes.map(\.resource) == ["deploy", "deploy", "deploy", "deploy"])
                #expect(changes[0].lock.isActive == false && changes[0].lock.waitExpires != nil)
                #expect(changes[2].lock.fencingToken == second.fencingToken && changes[2].lock.title == "second")
                #expect(changes[2].lock.url.absoluteString.hasSuffix("/locks/deploy/\(second.uid)"))
                // A lock that is gone comes with only what names it; the client completes it
                // from what the stream showed (the snapshot, then the grant).
                #expect(!changes[1].json.contains("\"lifetime\"") && !changes[3].json.contains("\"active_since\""))
                #expect(changes[1].lock == snapshot.locks.first)
                #expect(changes[3].lock == changes[2].lock && changes[3].lock.activeSince != nil)
                // Ids EPOCH-N: one epoch, N counting up from the snapshot's.
                let ids = [snapshot.id] + changes.map(\.id)
                let epochs = Set(ids.map { $0.split(separator: "-")[0] })
                let numbers = ids.compactMap { $0.split(separator: "-").last.flatMap { Int($0) } }
                #expect(epochs.count == 1 && numbers == Array(numbers[0]...(numbers[0] + 4)))
                #expect(changes.allSatisfy { $0.time != nil && $0.json.contains("\"event\":\"\($0.kind.rawValue)\"") })
                #expect(log.ending == nil)
            }
        }

        @Test("resource: only that resource's snapshot and changes")
        func resourceFilter() async throws {
            try await withDaemon { client, _ in
                let other = try await client.acquire("other")
                let mine = try await client.acquire("mine")
                let log = EventLog()
                let watcher = Task { await log.record(client.events(resource: "mine")) }
                defer { watcher.cancel() }
                try await log.wait(until: "the snapshot came") { !$0.isEmpty }
                #expect(log.snapshots.first?.locks.map(\.uid) == [mine.uid])
                try await client.release(other)
                let again = try await client.acquire("other")
                try await client.release(mine)
                let changes = try await log.changes(count: 1)
                #expect(changes.map(\.kind) == [.released] && changes.map(\.lock.uid) == [mine.uid])
                try await client.release(again)
                // A name the server would refuse is refused at once.
                var iterator = client.events(resource: "no/slash").makeAsyncIterator()
                await #expect(throws: RDLMError.badRequest) { _ = try await iterator.next() }
            }
        }

        @Test("cancelling the consuming task, or dropping the sequence, ends the stream promptly and closes its connection")
        func cancellation() async throws {
            try await withDaemon { client, _ in
                let started = Signal<Void>()
                let consumer = Task {
                    var count = 0
                    for try await _ in client.events() {
                        count += 1
                        started.send(())
                    }
                    return count
                }
                try await started.first()
                try await eventually("the stream is open") { try await client.openEventStreams() == 1 }
                let cancelledAt = ContinuousClock.now
                consumer.cancel()
                let count = try await consumer.value
                #expect(ContinuousClock.now - cancelledAt < .seconds(5))
                #expect(count == 1)
                try await eventually("the server saw the connection close") { try await client.openEventStreams() == 0 }

                // Leaving the loop drops the iterator and the sequence.
                for try await event in client.events() {
                    guard case .snapshot = event else { throw TestFailure("the first event is \(event)") }
                    break
                }
                try await eventually("the dropped stream's connection closed") { try await client.openEventStreams() == 0 }
            }
        }

        @Test("a daemon restarted on the same port: the sequence reconnects and gets reset and a new snapshot")
        func reconnectsAfterRestart() async throws {
            var server = try await startDaemon()
            let port = server.port
            let client = try RDLMClient(configuration: .init(baseURL: URL(string: "http://127.0.0.1:\(port)")!))
            let log = EventLog()
            let watcher = Task { await log.record(client.events()) }
            do {
                try await log.wait(until: "the snapshot came") { !$0.isEmpty }
                _ = try await client.acquire("before")
                _ = try await log.changes(count: 1)
                await server.shutdown()
                try await log.wait(until: "the client noticed") { $0.contains { if case .reconnecting = $0 { true } else { false } } }
                server = try await startDaemon(port: port)
                let after = try await client.acquire("after")
                try await log.wait(until: "a new snapshot came") { events in
                    events.filter { if case .snapshot = $0 { true } else { false } }.count == 2
                }
                let events = log.events
                let resetIndex = try #require(events.firstIndex { if case .reset = $0 { true } else { false } })
                guard case .snapshot(let fresh) = events[resetIndex + 1], let old = log.snapshots.first else {
                    throw TestFailure("no snapshot right after the reset: \(events)")
                }
                #expect(fresh.id.split(separator: "-")[0] != old.id.split(separator: "-")[0], "a new epoch")
                // The new daemon's snapshot holds what it has; later changes follow it.
                let uids = fresh.locks.map(\.uid)
                #expect(uids.isEmpty || uids == [after.uid])
                try await client.release(after)
                try await log.wait(until: "the release after the restart came") { _ in
                    log.changes.contains { $0.kind == .released && $0.lock.uid == after.uid }
                }
                #expect(log.ending == nil)
            } catch {
                watcher.cancel()
                await client.shutdown()
                await server.shutdown()
                throw error
            }
            watcher.cancel()
            await client.shutdown()
            await server.shutdown()
        }

        @Test("Basic credentials: the right ones stream, wrong or none throw unauthorized at once, forbidden throws")
        func credentials() async throws {
            let admins = AdminAuthentication.basic(credentials: ["admin:s3cret"])
            try await withDaemon(admin: admins, credentials: .init(username: "admin", password: "s3cret")) { client, _ in
                for try await event in client.events() {
                    guard case .snapshot = event else { throw TestFailure("the first event is \(event)") }
                    break
                }
            }
            for credentials in [RDLMClient.AdminCredentials(username: "admin", password: "guess"), nil] {
                try await withDaemon(admin: admins, credentials: credentials) { client, _ in
                    let error: RDLMError? = try await Self.ending(of: client.events()) as? RDLMError
                    #expect(error == RDLMError.unauthorized)
                    #expect(error?.status == 401)
                }
            }
            try await withDaemon(admin: .forbidden) { client, _ in
                let error: RDLMError? = try await Self.ending(of: client.events()) as? RDLMError
                #expect(error == RDLMError.forbidden)
            }
        }

        /// The error `stream` ends with, within 10 s (a sequence that retried instead would
        /// not end), having yielded nothing.
        static func ending(of stream: AsyncThrowingStream<RDLMEvent, any Error>) async throws -> (any Error)? {
            let log = EventLog()
            let reader = Task { await log.record(stream) }
            defer { reader.cancel() }
            try await eventually("the sequence ended", timeout: .seconds(10)) { log.ending != nil }
            #expect(log.events.isEmpty)
            guard case .failed(let error) = log.ending else { return nil }
            return error
        }
    }
}
