import DequeModule
import NIOCore
import NIOHTTP1
import RDLMWire

/// One HTTP/1 connection: collects each request, has it admitted and answered by the lock
/// API, and writes the answers in order. Framing, pipelining, deadlines and closing live
/// here; what a request means lives in `Admission` and `LockAPI`.
///
/// It sits right behind NIO's request decoder and writes its answers as bytes, framed by
/// `Response.encode`, and does the pipelining itself: parts of a request that arrive while
/// an answer is pending wait in `backlog`, and reading stops meanwhile. NIO's response
/// encoder and pipelining handler did the same with three pipeline passes per answer
/// through three handlers, which was as much CPU as the kernel's `writev` (docs/benchmarks.md).
///
/// Memory per connection stays bounded whatever the client does: nothing is read, and no
/// queued request is handled, while an answer is pending or the channel is not writable
/// (a client that pipelines without reading its answers is simply not read any more).
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        /// The API is deciding the answer (immediately, or by an acquire that may be parked).
        case answering(Request, parked: GrantedLock?)
        /// The request was refused before its end (body too large, too slow); the
        /// connection closes.
        case closing
    }

    /// What arrived while an answer was pending, handled in order once it is written.
    private enum Inbound {
        case part(HTTPServerRequestPart)
        case malformed(HTTPParserError)
    }

    private let shared: RequestContext
    private var state = State.idle
    private var backlog = Deque<Inbound>()
    /// A read the channel asked for while input was on hold.
    private var readPending = false
    private var isDrainingBacklog = false
    private var isWritable = true
    private var isActive = true
    /// Graceful shutdown began: finish the request in flight, then close.
    private var isQuiescing = false
    private var requestCount: UInt64 = 0
    /// When the first byte of the request now being received arrived (see
    /// `RequestStartObserver`); nil between requests. `--request-timeout` counts from here
    /// to the request's last byte, however slowly the bytes trickle in.
    private var requestStarted: NIODeadline?
    /// When the connection last finished an answer or started a request.
    private var lastActivity = NIODeadline.now()
    /// This side's `http://host:port`, for `Location` when a client sent no `Host` (HTTP/1.0).
    private var localBase: String?
    /// TLS or not, and admin by certificate (set by `TLSHandshakeGuard`).
    var transport = ConnectionTransport.plain
    /// The peer's address, the key of the per-client quota; looked up on the first request.
    private var peer: String??
    private var dateHeader: DateHeader?
    /// Grants written during the current turn of the event loop. If the client's end of
    /// input comes in the same read as its request, it left before it could read the
    /// answer (the first write to such a socket still succeeds), so these are released.
    private var recentGrants: [GrantedLock] = []
    /// `GET /events`: the stream this connection now carries; no more requests are read.
    private var eventStream: EventSubscription?
    /// This connection's context while the handler is in its pipeline (for the sweeper).
    private var context: ChannelHandlerContext?
    /// Links of this loop's `ConnectionSweeper` list.
    var sweepNext: ConnectionHandler?
    var sweepPrevious: ConnectionHandler?

    init(shared: RequestContext) {
        self.shared = shared
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
        let sweeper = shared.sweepers.sweeper(on: context.eventLoop)
        sweeper?.add(self)
        dateHeader = sweeper?.dateHeader ?? DateHeader()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        shared.sweepers.sweeper(on: context.eventLoop)?.remove(self)
        self.context = nil
    }

    /// Bytes reached the decoder: the start of a request, if none is under way.
    func inputArrived() {
        if requestStarted == nil, case .idle = state {
            requestStarted = .now()
            lastActivity = requestStarted!
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard takesInput else {
            if case .closing = state { return }
            backlog.append(.part(part))
            return
        }
        receive(part, context: context)
    }

    /// Whether a request part or error can be handled now: no answer is pending, the channel
    /// can take an answer, and nothing that arrived earlier is still waiting.
    private var takesInput: Bool {
        switch state {
        case .idle, .receiving: return isWritable && (backlog.isEmpty || isDrainingBacklog)
        case .answering, .closing: return false
        }
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (part, state) {
        case (.head(let head), .idle):
            if requestStarted == nil { requestStarted = .now() }
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }),
               length > shared.configuration.limits.maxBodyBytes {
                refuseEarly(HTTPError(.payloadTooLarge, bodyTooLargeMessage), head: head, context: context)
                return
            }
            state = .receiving(head, nil)
            if head.headers.value(of: "expect", contains: "100-continue") {
                // curl asks first for bodies over 1 KiB and would otherwise pause a second.
                var buffer = context.channel.allocator.buffer(capacity: 32)
                Response(status: .continue).encode(into: &buffer, version: head.version, keepAlive: true, includeBody: false, date: nil)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            }
        case (.body(var chunk), .receiving(let head, var body)):
            let size = (body?.readableBytes ?? 0) + chunk.readableBytes
            guard size <= shared.configuration.limits.maxBodyBytes else {
                refuseEarly(HTTPError(.payloadTooLarge, bodyTooLargeMessage), head: head, context: context)
                return
            }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            requestCount += 1
            let request = Request(head, number: requestCount)
            state = .answering(request, parked: nil)
            requestStarted = nil
            dispatch(head, request, body: body.map { Array($0.readableBytesView) } ?? [], context: context)
        case (_, .closing):
            break
        default:
            // The decoder delivers head, body parts and end in order; anything else is a
            // broken stream.
            context.close(promise: nil)
        }
    }

    /// While input is on hold the connection is not read (as NIO's pipelining handler does),
    /// so a client cannot pile up requests or answers. Closing is still noticed, so an
    /// abandoned waiter still leaves the queue.
    func read(context: ChannelHandlerContext) {
        if takesInput {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        if isWritable { eventStream?.flush() }
        if isWritable { resumeInput(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// After an answer: handles what arrived meanwhile, in order, until one of those
    /// requests is pending in turn, then lets reading resume.
    private func resumeInput(context: ChannelHandlerContext) {
        guard !isDrainingBacklog else { return }
        isDrainingBacklog = true
        defer { isDrainingBacklog = false }
        while takesInput, let next = backlog.popFirst() {
            switch next {
            case .part(let part): receive(part, context: context)
            case .malformed(let error): answerMalformed(error, context: context)
            }
        }
        if takesInput, readPending {
            readPending = false
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        if let eventStream { shared.api.endStream(eventStream) }
        if case .answering(_, let parked?) = state {
            shared.api.abandon(parked)
        }
        for grant in recentGrants {
            shared.api.releaseUndelivered(grant, eventLoop: context.eventLoop)
        }
        recentGrants = []
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            isQuiescing = true
            eventStream?.close()
            // Between requests nothing is lost by closing now; otherwise the answer in
            // flight goes out first, with `Connection: close`.
            if case .idle = state, requestStarted == nil, backlog.isEmpty {
                state = .closing
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        if takesInput {
            answerMalformed(parserError, context: context)
        } else if case .closing = state {
            return
        } else {
            // Bytes after a request whose answer is pending: that answer goes out first.
            backlog.append(.malformed(parserError))
        }
    }

    // MARK: Deadlines

    /// Called by the loop's sweeper: a request not received completely `requestTimeout`
    /// after its first byte gets 408, and a connection with nothing in flight is closed with
    /// 408 after `idleTimeout`. Parked waiters are never timed out here.
    func checkProgress(now: NIODeadline) {
        guard let context else { return }
        let limits = shared.configuration.limits
        if let started = requestStarted, now - started >= limits.requestTimeout.timeAmount {
            let error = HTTPError(.requestTimeout, "request not received completely within \(WireSeconds.format(limits.requestTimeout)) seconds")
            switch state {
            case .receiving(let head, _):
                refuseEarly(error, head: head, context: context)
            case .idle:
                state = .closing
                writeAndClose(.error(error, json: false), context: context)
            case .answering, .closing:
                break
            }
        } else if case .idle = state, requestStarted == nil, now - lastActivity >= limits.idleTimeout.timeAmount {
            // RFC 9110 allows an unsolicited 408 to say why the connection ends.
            state = .closing
            let response = Response(status: .requestTimeout, body: "connection idle for \(WireSeconds.format(limits.idleTimeout)) seconds\n", contentType: "text/plain; charset=UTF-8")
            writeAndClose(response, context: context)
        }
    }

    // MARK: Answering

    private func dispatch(_ head: HTTPRequestHead, _ request: Request, body: [UInt8], context: ChannelHandlerContext, checked: Result<Admission.Admitted, HTTPError>? = nil) {
        if peer == nil { peer = .some(context.channel.remoteAddress?.ipAddress) }
        let admitted: Admission.Admitted
        do throws(HTTPError) {
            switch try shared.admission.admit(head, peer: peer ?? nil, certifiedAdmin: transport.isCertifiedAdmin, checked: checked) {
            case .admitted(let decided): admitted = decided
            case .checking(let check): // hashed off this loop; the request stays pending meanwhile
                return check.run(on: context.eventLoop) { [self] in
                    if isActive { dispatch(head, request, body: body, context: context, checked: $0) }
                }
            }
        } catch {
            respond(.error(error, json: request.wantsJSON), to: request, context: context)
            return
        }
        var locationBase = ""
        if case .acquire = admitted.endpoint {
            locationBase = self.locationBase(authority: admitted.authority, context: context)
        }
        if case .events(let resource) = admitted.endpoint {
            startEventStream(resource: resource, lastEventID: head.headers.first(name: "last-event-id"), request: request, context: context)
            return
        }
        let apiRequest = APIRequest(endpoint: admitted.endpoint, body: body, wantsJSON: request.wantsJSON, locationBase: locationBase, client: peer ?? nil, requestID: admitted.requestID)
        let parked = shared.api.respond(to: apiRequest, eventLoop: context.eventLoop) { [self] response in
            respond(response, to: request, context: context)
        }
        // Unless it was answered at once, remember the acquire, to abandon it if the
        // client leaves first.
        if let parked, case .answering(let current, nil) = state, current.number == request.number {
            state = .answering(current, parked: parked)
        }
    }

    /// Turns this connection into the event stream: the answer's head, then its first
    /// message, then changes as they come, until either side closes it.
    private func startEventStream(resource: String?, lastEventID: String?, request: Request, context: ChannelHandlerContext) {
        let sink = EventSink(connection: context)
        do throws(HTTPError) {
            let (subscription, first) = try shared.api.openStream(resource: resource, lastEventID: lastEventID, loop: context.eventLoop, sink: sink)
            state = .closing
            eventStream = subscription
            write(.eventStream, version: request.version, keepAlive: false, includeBody: false, context: context, closesAfter: false)
            subscription.start(with: first)
        } catch {
            respond(.error(error, json: request.wantsJSON), to: request, context: context)
        }
    }

    /// `Location`'s base: `--public-url`, else the authority the client addressed, else
    /// (HTTP/1.0 without `Host`) the address it reached this server on.
    private func locationBase(authority: Substring?, context: ChannelHandlerContext) -> String {
        if let publicURL = shared.configuration.publicURL { return publicURL }
        if let authority { return "\(transport.scheme)://\(authority)" }
        if let localBase { return localBase }
        let base = "\(transport.scheme)://" + (Self.hostAndPort(of: context.channel.localAddress) ?? "\(shared.configuration.host):\(shared.configuration.port)")
        localBase = base
        return base
    }

    /// Writes the answer to `request` and moves on to the next one. A grant that cannot
    /// reach its client (it left, the write failed, or the answer belongs to no pending
    /// request) is released instead of lingering as a ghost holder.
    private func respond(_ response: Response, to request: Request, context: ChannelHandlerContext) {
        guard case .answering(let current, _) = state, current.number == request.number, isActive else {
            assert(!isActive || response.grant == nil, "an answer arrived for no pending request")
            if let grant = response.grant { shared.api.releaseUndelivered(grant, eventLoop: context.eventLoop) }
            return
        }
        let keepAlive = request.keepAlive && !response.closesConnection && !isQuiescing
        state = keepAlive ? .idle : .closing
        lastActivity = .now()
        var written: EventLoopPromise<Void>?
        if let grant = response.grant {
            let api = shared.api
            let loop = context.eventLoop
            written = loop.makePromise(of: Void.self)
            written!.futureResult.whenFailure { _ in api.releaseUndelivered(grant, eventLoop: loop) }
            if recentGrants.isEmpty {
                // Runs after this turn's I/O, so after a close that came with the request.
                context.eventLoop.assumeIsolated().execute { [self] in recentGrants = [] }
            }
            recentGrants.append(grant)
        }
        write(response, version: request.version, keepAlive: keepAlive, includeBody: !request.isHEAD, context: context, written: written)
        if keepAlive { resumeInput(context: context) }
    }

    /// Answers bytes that are not HTTP with a 400 that says so, then closes the connection
    /// (the decoder cannot find the next request in them).
    private func answerMalformed(_ error: HTTPParserError, context: ChannelHandlerContext) {
        state = .closing
        let response = Response(status: .badRequest, body: "malformed HTTP request (\(error))\n", contentType: "text/plain; charset=UTF-8")
        writeAndClose(response, context: context)
    }

    private var bodyTooLargeMessage: String {
        "request body is larger than \(shared.configuration.limits.maxBodyBytes) bytes"
    }

    /// Answers a request before its body was read (too large, too slow), then closes the
    /// connection, since the rest of the body cannot be skipped reliably.
    private func refuseEarly(_ error: HTTPError, head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .closing
        write(.error(error, json: Self.wantsJSON(head)), version: head.version, keepAlive: false, includeBody: head.method != .HEAD, context: context)
    }

    private func writeAndClose(_ response: Response, context: ChannelHandlerContext) {
        write(response, version: .http1_1, keepAlive: false, includeBody: true, context: context)
    }

    /// Writes one whole answer; without keep-alive, closes the connection once it is out.
    private func write(_ response: Response, version: HTTPVersion, keepAlive: Bool, includeBody: Bool, context: ChannelHandlerContext, written: EventLoopPromise<Void>? = nil, closesAfter: Bool = true) {
        var buffer = context.channel.allocator.buffer(capacity: 224 + response.body.utf8.count)
        response.encode(into: &buffer, version: version, keepAlive: keepAlive, includeBody: includeBody, date: dateHeader?.current)
        guard !keepAlive, closesAfter else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
            return
        }
        let closing = written ?? context.eventLoop.makePromise(of: Void.self)
        closing.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: closing)
    }
}
