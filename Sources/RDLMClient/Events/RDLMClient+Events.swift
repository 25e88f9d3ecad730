import CCurl
import Foundation

/// `GET /events`: the daemon's live feed of every change to every lock.
extension RDLMClient {
    /// Every change to the locks, as it happens: a ``RDLMEvent/snapshot(_:)`` of the locks
    /// there are, then one ``RDLMEvent/change(_:)`` per change, in the daemon's order.
    ///
    /// The sequence reconnects by itself. When the stream breaks, its server cannot be
    /// reached, or it answers 5xx (503 from an etcd daemon that cannot reach its cluster) or 429, it yields
    /// ``RDLMEvent/reconnecting(reason:after:)``, waits (the daemon's `retry`, a second,
    /// doubling after each failed attempt up to ten, ±20 %) and asks again with the
    /// `Last-Event-ID` of the last event it got; the daemon then sends the changes missed,
    /// or a ``RDLMEvent/reset(reason:)`` and a new snapshot (after a restart, say). With
    /// several servers it tries each in turn before waiting. It ends when the consuming
    /// task is cancelled or the sequence is dropped (the stream's connection is closed
    /// then), and throws on an answer that retrying would not change: ``RDLMError/unauthorized``
    /// (401) and ``RDLMError/forbidden`` (403) under the admin rule, like ``resources()``,
    /// ``RDLMError/badRequest`` for an unknown resource name, ``RDLMError/unexpectedResponse``,
    /// a TLS or URL error, or ``RDLMError/clientShutdown``.
    ///
    /// Events are buffered without limit until read: read them as they come.
    ///
    /// ```swift
    /// for try await event in client.events(resource: "deploy") {
    ///     if case .change(let change) = event { print(change.kind, change.lock.title) }
    /// }
    /// ```
    /// - Parameters:
    ///   - resource: only this resource's locks; nil for every resource.
    ///   - idleTimeout: how long the stream may bring nothing, not even the daemon's
    ///     heartbeat comment (every 15 s by default), before it counts as broken and is
    ///     reopened. Whole seconds; curl's low-speed check averages over a few seconds,
    ///     so giving up may take up to about five seconds longer.
    public func events(resource: String? = nil, idleTimeout: Duration = .seconds(60)) -> AsyncThrowingStream<RDLMEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: RDLMEvent.self)
        var path = "/events"
        if let resource {
            do {
                try Self.validate(resource: resource)
            } catch {
                continuation.finish(throwing: error)
                return stream
            }
            path += "?resource=" + resource
        }
        let task = Task { [path] in
            do {
                var watch = EventWatch(client: self, path: path, idleTimeout: idleTimeout, output: continuation)
                try await watch.run()
                continuation.finish()
            } catch is CancellationError {
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// The loop behind ``RDLMClient/events(resource:idleTimeout:)``: one stream after another,
/// from server to server, with the parser (and so the last event id) kept across them.
struct EventWatch {
    typealias Output = AsyncThrowingStream<RDLMEvent, any Error>.Continuation

    let client: RDLMClient
    let path: String
    let idleTimeout: Duration
    let output: Output
    private var parser = ServerSentEventParser()
    /// The locks the stream has shown and that are not gone, by uid, across reconnects (a
    /// resumed stream goes on where the last one stopped; a snapshot replaces them all).
    private var shown: [String: LockDetails] = [:]

    /// The longest wait between attempts.
    static let maximumDelay = Duration.seconds(10)

    init(client: RDLMClient, path: String, idleTimeout: Duration, output: Output) {
        self.client = client
        self.path = path
        self.idleTimeout = idleTimeout
        self.output = output
    }

    /// How one attempt ended, when it is worth another.
    private enum Ending {
        /// The stream was open (events came) and then ended.
        case streamEnded(String)
        /// No stream: no connection, or a 5xx or 429.
        case failed(String)
    }

    mutating func run() async throws {
        let bases = client.servers.bases
        var index = bases.firstIndex(of: client.servers.current) ?? 0
        var failures = 0
        while true {
            let base = bases[index]
            let pause: Duration
            let reason: String
            switch try await attempt(base) {
            case .streamEnded(let why):
                client.servers.answered(by: base)
                failures = 0
                (reason, pause) = (why, retryDelay)
            case .failed(let why):
                failures += 1
                index = (index + 1) % bases.count
                // Every server once, then a pause that doubles with each round.
                let rounds = failures / bases.count
                if failures % bases.count != 0 {
                    (reason, pause) = (why, .zero)
                } else {
                    let delay = retryDelay * (1 << min(rounds - 1, 10))
                    (reason, pause) = (why, min(delay, max(Self.maximumDelay, retryDelay)) * Double.random(in: 0.8...1.2))
                }
            }
            try send(.reconnecting(reason: reason, after: pause))
            if pause > .zero { try await Task.sleep(for: pause) }
        }
    }

    private mutating func remember(_ event: RDLMEvent) {
        switch event {
        case .snapshot(let snapshot):
            shown = Dictionary(snapshot.locks.map { ($0.uid, $0) }, uniquingKeysWith: { $1 })
        case .change(let change):
            shown[change.lock.uid] = change.kind.ends ? nil : change.lock
        case .reset, .reconnecting:
            break
        }
    }

    /// The daemon's `retry:`, else a second.
    private var retryDelay: Duration {
        .milliseconds(parser.retryMilliseconds ?? 1_000)
    }

    /// One `GET /events` to `base`, its events yielded as they come, until it ends.
    private mutating func attempt(_ base: String) async throws -> Ending {
        var request = client.makeRequest(.get, base + path, admin: true)
        request.headers = request.headers.map { $0.hasPrefix("Accept:") ? "Accept: text/event-stream, application/json" : $0 }
        if !parser.lastEventID.isEmpty { request.ownHeaders = ["Last-Event-ID: " + parser.lastEventID] }
        let (pieces, sink) = AsyncStream.makeStream(of: [UInt8].self)
        let receiver = StreamReceiver(idleTimeout: idleTimeout) { sink.yield($0) }
        let transport = client.transport
        var opened = false
        let outcome: Result<HTTPResponse, any Error>
        do {
            outcome = .success(try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
                group.addTask { [request] in
                    defer { sink.finish() }
                    return try await transport.execute(request, stream: receiver)
                }
                for await piece in pieces {
                    opened = true
                    for message in parser.feed(piece) {
                        if let event = try RDLMEvent(message, base: base, request: request.summary, shown: shown) {
                            remember(event)
                            try send(event)
                        }
                    }
                }
                try Task.checkCancellation()
                return try await group.next()!
            })
        } catch let error as RDLMError where error == .transport {
            outcome = .failure(error)
        }
        switch outcome {
        case .failure(let error as RDLMError):
            if opened { return .streamEnded("the stream from \(base) broke: \(error.message ?? "\(error)")") }
            if let code = error.curlCode, Self.permanentCurlCodes.contains(code) { throw error }
            return .failed("no answer from \(base): \(error.message ?? "\(error)")")
        case .failure(let error):
            throw error
        case .success(let response):
            if opened || (200..<300).contains(response.status) { return .streamEnded("\(base) closed the stream") }
            if response.status == 429 || (500..<600).contains(response.status) {
                let message = ResponseBody.errorMessage(of: response).map { ": \($0)" } ?? ""
                return .failed("\(base) answered \(response.status)\(message)")
            }
            try client.check(response, request, .admin)
            throw RDLMError.unexpectedResponse("GET /events answered \(response.status)", status: response.status, request: request.summary)
        }
    }

    /// Hands an event to the consumer; throws `CancellationError` when it is gone.
    private func send(_ event: RDLMEvent) throws {
        if case .terminated = output.yield(event) { throw CancellationError() }
    }

    /// curl errors that another attempt would meet again: URL and TLS set-up and
    /// certificate errors.
    static let permanentCurlCodes: Set<Int> = Set([
        CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
        CURLE_SSL_CERTPROBLEM, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
        CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
    ].map { Int($0.rawValue) })
}
