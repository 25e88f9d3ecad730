import NIOCore
import NIOHTTP1
import RDLMWire

/// A watch's life across members: one `POST /v3/watch` at a time, whose chunked answer is
/// newline-separated JSON objects. When it breaks, the next member is asked from the
/// revision after the last one delivered. Lives on the client's event loop.
final class WatchStream {
    struct Request {
        var key: String
        var rangeEnd: String?
        var startRevision: Int64
        var prevKV: Bool
        /// Deletes only (etcd's `NOPUT` filter): puts are not even sent.
        var deletesOnly: Bool
    }

    private let client: EtcdClient
    private let request: Request
    private let handler: @Sendable (EtcdWatchUpdate) -> Void
    /// The revision the next attempt starts at; 0 until known when the watch began "now".
    private var nextRevision: Int64
    private var endpoint: Int
    private var attempt: WatchAttempt?
    /// Since when no member has served the watch; nil while one does.
    private var outageStart: NIODeadline?
    private var retries = 0
    private var retryTask: Scheduled<Void>?
    private var isOver = false

    init(client: EtcdClient, request: Request, handler: @escaping @Sendable (EtcdWatchUpdate) -> Void) {
        self.client = client
        self.request = request
        self.handler = handler
        self.nextRevision = request.startRevision
        self.endpoint = 0
    }

    private var endpointName: String { "\(client.endpoints[endpoint])" }

    func start() {
        let state = client.state.value
        guard !state.isShutDown else { return end(.unavailable("client shut down")) }
        state.watches[ObjectIdentifier(self)] = self
        endpoint = client.preferredEndpoint()
        connect()
    }

    func cancel() {
        guard !isOver else { return }
        isOver = true
        stop()
    }

    private func connect() {
        guard !isOver else { return }
        let attempt = WatchAttempt(stream: self)
        self.attempt = attempt
        var create: [String: JSONValue] = [
            "key": GatewayEncoding.bytes(request.key),
            "progress_notify": .bool(true),
        ]
        if let rangeEnd = request.rangeEnd { create["range_end"] = GatewayEncoding.bytes(rangeEnd) }
        if nextRevision > 0 { create["start_revision"] = GatewayEncoding.int64(nextRevision) }
        if request.prevKV { create["prev_kv"] = .bool(true) }
        if request.deletesOnly { create["filters"] = .array([.string("NOPUT")]) }
        let body = JSONValue.object(["create_request": .object(create)]).serialized
        let endpoint = client.endpoints[self.endpoint]
        // A member that takes the connection and never answers (paused) must not hold the
        // watch: it has until this timer to say the watch is created.
        let createTimeout = TimeAmount(min(client.requestTimeout, client.watchReconnectWindow / 2))
        attempt.createTimer = client.eventLoop.assumeIsolated().scheduleTask(in: createTimeout) {
            self.broke(attempt, "\(endpoint) did not create the watch in time")
        }
        GatewayConnectionPool.connect(to: endpoint, on: client.eventLoop, timeout: createTimeout).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard attempt === self.attempt, !self.isOver else { return connection.channel.close(promise: nil) }
                attempt.connection = connection
                connection.handler.begin(.stream(attempt))
                _ = connection.post("/v3/watch", body: body, endpoint: endpoint)
            case .failure(let error):
                self.broke(attempt, "cannot connect to \(endpoint): \(error)")
            }
        }
    }

    /// One line of the answer: a `{"result": WatchResponse}` or a `{"error": ...}`.
    func received(_ line: [UInt8], on attempt: WatchAttempt) {
        guard attempt === self.attempt, !isOver else { return }
        do {
            let object = try GatewayObject(try JSONParser.parse(line, maxDepth: 64))
            if object.has("error") {
                let error = try object.object("error")
                return broke(attempt, "\(endpointName): \(try error.string("message"))")
            }
            try handle(try object.object("result"), on: attempt)
        } catch let error as GatewayShapeError {
            broke(attempt, "\(endpointName): unexpected watch answer: \(error.message)")
        } catch {
            broke(attempt, "\(endpointName): unreadable watch answer: \(error)")
        }
    }

    private func handle(_ result: GatewayObject, on attempt: WatchAttempt) throws {
        let compactRevision = try result.int64("compact_revision")
        if compactRevision > 0 { return end(.compacted(compactRevision)) }
        if try result.bool("canceled") {
            let reason = try result.string("cancel_reason")
            return broke(attempt, "\(endpointName): watch canceled" + (reason.isEmpty ? "" : ": \(reason)"))
        }
        if try result.bool("created") {
            attempt.createTimer?.cancel()
            outageStart = nil
            retries = 0
            // A watch from "now" resumes after the revision it was created at.
            if nextRevision == 0 { nextRevision = try result.headerRevision() + 1 }
            return
        }
        let events = try result.array("events")
        if let last = events.last {
            var decoded: [EtcdEvent] = []
            decoded.reserveCapacity(events.count)
            for event in events { decoded.append(try GatewayDecoding.event(event)) }
            let revision = try GatewayDecoding.keyValue(try last.object("kv")).modRevision
            nextRevision = revision + 1
            handler(.events(revision: revision, decoded))
        } else {
            // Progress: a synced watcher has been sent everything up to the header's revision.
            nextRevision = max(nextRevision, try result.headerRevision() + 1)
            handler(.progress(revision: nextRevision - 1))
        }
    }

    /// The attempt is over without the watch being over: the next member is asked, at once
    /// the first time round, then with a growing pause. No member for the reconnect window
    /// ends the watch `.unavailable`.
    func broke(_ attempt: WatchAttempt, _ reason: String) {
        guard attempt === self.attempt, !isOver else { return }
        self.attempt = nil
        attempt.close()
        client.logger.debug("etcd watch broke, reconnecting", metadata: ["reason": "\(reason)", "next_revision": "\(nextRevision)"])
        client.endpointFailed(endpoint, reason)
        endpoint = (endpoint + 1) % client.endpoints.count
        let now = NIODeadline.now()
        let since = outageStart ?? now
        outageStart = since
        guard now - since < TimeAmount(client.watchReconnectWindow) else {
            return end(.unavailable("no etcd member has served the watch for \(client.watchReconnectWindow) (last: \(reason))"))
        }
        retries += 1
        let pause = retries <= client.endpoints.count ? TimeAmount.zero : .milliseconds(Int64(min(100 * (retries - client.endpoints.count), 500)))
        retryTask = client.eventLoop.assumeIsolated().scheduleTask(in: pause) { self.connect() }
    }

    private func end(_ error: EtcdError) {
        guard !isOver else { return }
        isOver = true
        stop()
        handler(.ended(error))
    }

    private func stop() {
        retryTask?.cancel()
        attempt?.close()
        attempt = nil
        client.state.value.watches[ObjectIdentifier(self)] = nil
    }
}

/// One HTTP request of a watch: it splits the answer's body into lines for the stream.
final class WatchAttempt: GatewayStreamDelegate {
    private unowned let stream: WatchStream
    var connection: GatewayConnection?
    var createTimer: Scheduled<Void>?
    private var status: HTTPResponseStatus = .ok
    private var pending: [UInt8] = []

    init(stream: WatchStream) {
        self.stream = stream
    }

    func close() {
        createTimer?.cancel()
        connection?.channel.close(promise: nil)
        connection = nil
    }

    func streamDidReceive(head: HTTPResponseHead) {
        status = head.status
    }

    func streamDidReceive(body: ByteBuffer) {
        pending.append(contentsOf: body.readableBytesView)
        guard status == .ok else { return }  // an error's body is read whole at the end
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) { stream.received(line, on: self) }
        }
    }

    func streamDidEnd(error: ExchangeFailure?) {
        if status != .ok {
            let message = (try? GatewayObject(try JSONParser.parse(pending))).flatMap { try? $0.string("message") } ?? ""
            stream.broke(self, "watch refused: HTTP \(status.code) \(message)")
        } else if case .lostAfterSend(let reason)? = error {
            stream.broke(self, reason)
        } else {
            stream.broke(self, "the watch's answer ended")
        }
    }
}
