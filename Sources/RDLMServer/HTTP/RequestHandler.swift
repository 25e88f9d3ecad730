import DequeModule
import Logging
import NIOCore
import NIOHTTP1
import RDLMCore

/// What every connection's handler shares, built once; each handler holds one reference.
final class RequestContext: Sendable {
    let service: any LockService
    let configuration: ServerConfiguration
    let logger: Logger
    let decoder: LockRequestDecoder
    let sweepers: ConnectionSweepers
    let connections: ConnectionGauge

    init(service: any LockService, configuration: ServerConfiguration, logger: Logger, sweepers: ConnectionSweepers, connections: ConnectionGauge) {
        self.service = service
        self.configuration = configuration
        self.logger = logger
        self.decoder = LockRequestDecoder(limits: configuration.limits)
        self.sweepers = sweepers
        self.connections = connections
    }
}

/// Owns the life of one request at a time on one connection: collect the body, route, ask
/// the lock service, answer. A parked acquire is this handler waiting for its future; if the
/// connection closes first, the waiter is abandoned so it never becomes a holder.
///
/// It sits right behind NIO's request decoder and writes its answers as bytes, framed by
/// `Response.encode`, and does the pipelining itself: parts of a request that arrive while
/// an answer is pending wait in `backlog`, and reading stops meanwhile. NIO's response
/// encoder and pipelining handler did the same with three pipeline passes per answer
/// (head, body, end) through three handlers; measured under `rdlm-loadgen cycles`, that
/// outbound path was about a third of the daemon's CPU per request, as much as the kernel's
/// `writev` itself (docs/benchmarks.md, Profile).
final class RequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        /// A response is being decided (immediately, or by an acquire that may be parked).
        case answering(Request, parked: PendingAcquire?)
        /// The request was refused before its end (body too large); the connection closes.
        case closing
    }

    private struct PendingAcquire {
        var id: LockID
        var resource: String
    }

    /// What answering needs to know of a request. Kept instead of its head while the answer
    /// is pending, so a parked acquire does not keep the head's header storage (about 600
    /// bytes) alive.
    private struct Request {
        var version: HTTPVersion
        var keepAlive: Bool
        var isHEAD: Bool
        var wantsJSON: Bool

        init(_ head: HTTPRequestHead) {
            version = head.version
            keepAlive = head.isKeepAlive
            isHEAD = head.method == .HEAD
            wantsJSON = RequestHandler.wantsJSON(head)
        }
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
    /// This side's `host:port`, for `Location` when a client sent no `Host` (HTTP/1.0).
    private var localHost: String?
    private var isActive = true
    /// When the client last sent something or was last answered.
    private var lastActivity = NIODeadline.now()
    /// This connection's context while the handler is in its pipeline (for the sweeper).
    private var context: ChannelHandlerContext?
    /// Links of this loop's `ConnectionSweeper` list.
    var sweepNext: RequestHandler?
    var sweepPrevious: RequestHandler?

    init(shared: RequestContext) {
        self.shared = shared
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        let part = unwrapInboundIn(data)
        guard takesInput else {
            if case .closing = state { return }
            backlog.append(.part(part))
            return
        }
        receive(part, context: context)
    }

    /// Whether a request part or error can be handled now: no answer is pending and nothing
    /// that arrived earlier is still waiting.
    private var takesInput: Bool {
        switch state {
        case .idle, .receiving: return backlog.isEmpty || isDrainingBacklog
        case .answering, .closing: return false
        }
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (part, state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }),
               length > shared.configuration.limits.maxBodyBytes {
                refuseEarly(HTTPError(.payloadTooLarge, bodyTooLargeMessage), head: head, context: context)
                return
            }
            state = .receiving(head, nil)
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                // curl asks first for bodies over 1 KiB and would otherwise pause a second.
                var buffer = context.channel.allocator.buffer(capacity: 32)
                Response(status: .continue).encode(into: &buffer, version: head.version, keepAlive: true, includeBody: false)
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
            let request = Request(head)
            state = .answering(request, parked: nil)
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            dispatch(head, request, body: bytes, context: context)
        case (_, .closing):
            break
        default:
            // The decoder delivers head, body parts and end in order; anything else is a
            // broken stream.
            context.close(promise: nil)
        }
    }

    /// While an answer is pending, the connection is not read (as NIO's pipelining handler
    /// does): a client cannot pile up requests behind a parked acquire. Closing is still
    /// noticed, so an abandoned waiter still leaves the queue.
    func read(context: ChannelHandlerContext) {
        if takesInput {
            context.read()
        } else {
            readPending = true
        }
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

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        shared.connections.opened()
        shared.sweepers.sweeper(on: context.eventLoop)?.add(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        shared.sweepers.sweeper(on: context.eventLoop)?.remove(self)
        shared.connections.closed()
        self.context = nil
    }

    /// Called by the loop's sweeper: a request that stops arriving midway gets 408 after
    /// `requestTimeout` without progress, and a connection with nothing in flight (including
    /// one whose request head never completes) is closed with 408 after `idleTimeout`.
    /// Parked waiters are never timed out here.
    func checkProgress(now: NIODeadline) {
        guard let context else { return }
        let limits = shared.configuration.limits
        let quiet = now - lastActivity
        switch state {
        case .receiving(let head, _) where quiet >= limits.requestTimeout.timeAmount:
            refuseEarly(HTTPError(.requestTimeout, "request not received completely: nothing for \(JSONWriter.seconds(limits.requestTimeout)) seconds"), head: head, context: context)
        case .idle where quiet >= limits.idleTimeout.timeAmount:
            state = .closing
            closeIdle(context: context, after: limits.idleTimeout)
        default:
            break
        }
    }

    /// Tells the client why the connection ends (RFC 9110 allows an unsolicited 408 here;
    /// it also answers a request head that never completed), then closes.
    private func closeIdle(context: ChannelHandlerContext, after timeout: Duration) {
        let response = Response(status: .requestTimeout, body: "connection idle for \(JSONWriter.seconds(timeout)) seconds\n", contentType: "text/plain; charset=UTF-8")
        write(response, version: .http1_1, keepAlive: false, includeBody: true, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        if case .answering(_, let parked?) = state {
            shared.service.abandon(parked.id)
        }
        context.fireChannelInactive()
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

    /// Answers bytes that are not HTTP with a 400 that says so, then closes the connection
    /// (the decoder cannot find the next request in them). NIO's own protocol error
    /// handler answers with an empty body; a client deserves a message.
    private func answerMalformed(_ error: HTTPParserError, context: ChannelHandlerContext) {
        state = .closing
        let response = Response(status: .badRequest, body: "malformed HTTP request (\(error))\n", contentType: "text/plain; charset=UTF-8")
        write(response, version: .http1_1, keepAlive: false, includeBody: true, context: context)
    }

    private var bodyTooLargeMessage: String {
        "request body is larger than \(shared.configuration.limits.maxBodyBytes) bytes"
    }

    // MARK: Routing

    private func dispatch(_ head: HTTPRequestHead, _ request: Request, body: [UInt8], context: ChannelHandlerContext) {
        do throws(HTTPError) {
            try handle(try admittedRoute(for: head), head: head, request, body: body, context: context)
        } catch {
            respond(.error(error, json: request.wantsJSON), context: context)
        }
    }

    /// The route of a request that may proceed: it exists (404), takes this method (405),
    /// names a resource of acceptable length (400), and is authorised if admin (401/403).
    private func admittedRoute(for head: HTTPRequestHead) throws(HTTPError) -> Route {
        let uri = head.uri
        guard let route = Route(path: uri[..<(uri.utf8.firstIndex(of: UInt8(ascii: "?")) ?? uri.endIndex)]) else {
            throw HTTPError(.notFound, "not found")
        }
        guard route.allowedMethods.contains(head.method) else {
            let allow = route.allowedMethods.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.methodNotAllowed, "method \(head.method.rawValue) not allowed here", headers: [("Allow", allow)])
        }
        let limits = shared.configuration.limits
        if let name = route.resourceName, name.utf8.count > limits.maxResourceNameLength {
            throw HTTPError(.badRequest, "resource name is longer than \(limits.maxResourceNameLength) characters")
        }
        if route.isAdmin {
            switch shared.configuration.adminAuthentication.check(authorization: head.headers.first(name: "authorization")) {
            case nil:
                break
            case .forbidden:
                throw HTTPError(.forbidden, "admin requests are disabled on this server")
            case .unauthorized(let message):
                throw HTTPError(.unauthorized, message, headers: [("WWW-Authenticate", "Basic realm=\"rdlm\"")])
            }
        }
        return route
    }

    private func handle(_ route: Route, head: HTTPRequestHead, _ summary: Request, body: [UInt8], context: ChannelHandlerContext) throws(HTTPError) {
        let service = shared.service
        let loop = context.eventLoop
        switch (route, head.method) {
        case (.home, _):
            respond(Response(status: .ok, body: "Welcome on restful-distributed-lock-manager !", contentType: "text/html; charset=UTF-8"), context: context)

        case (.locks(let resource), _):
            let request = try shared.decoder.acquireRequest(from: body)
            let id = LockID.random()
            state = .answering(summary, parked: PendingAcquire(id: id, resource: resource))
            let host = head.headers.first(name: "host") ?? localHost(context: context)
            answer(service.acquire(request, on: resource, id: id, eventLoop: loop), context: context) { [self] outcome throws(HTTPError) in
                try acquired(outcome, host: host, json: summary.wantsJSON)
            }

        case (.lock(let resource, let uid), .GET):
            let id = try lockID(uid)
            answer(service.lock(id, on: resource, eventLoop: loop), context: context) { lock throws(HTTPError) in
                guard let lock else { throw .lockNotFound }
                return .hal(LockRepresentation.lock(lock))
            }

        case (.lock(let resource, let uid), .DELETE):
            let id = try lockID(uid)
            answer(service.release(id, on: resource, eventLoop: loop), context: context) { released throws(HTTPError) in
                guard released else { throw .lockNotFound }
                return .noContent()
            }

        case (.lock(let resource, let uid), _):
            let id = try lockID(uid)
            let lifetime = try shared.decoder.refreshLifetime(from: body)
            answer(service.refresh(id, on: resource, lifetime: lifetime, eventLoop: loop), context: context) { result throws(HTTPError) in
                switch result {
                case .refreshed(let lock): return .hal(LockRepresentation.lock(lock))
                case .notActive: throw HTTPError(.conflict, "lock is still waiting; only an active lock can be refreshed")
                case .notFound: throw .lockNotFound
                }
            }

        case (.resources, .GET):
            answer(service.resourceNames(eventLoop: loop), context: context) { names in
                .hal(LockRepresentation.resources(names))
            }

        case (.resources, _):
            answer(service.deleteAll(eventLoop: loop), context: context) { _ in .noContent() }

        case (.resource(let resource), .GET):
            answer(service.locks(on: resource, eventLoop: loop), context: context) { locks in
                .hal(LockRepresentation.resource(resource, locks: locks))
            }

        case (.resource(let resource), _):
            answer(service.deleteResource(resource, eventLoop: loop), context: context) { deleted throws(HTTPError) in
                guard deleted else { throw HTTPError(.notFound, "no resource (with locks) found") }
                return .noContent()
            }
        }
    }

    private func lockID(_ uid: Substring) throws(HTTPError) -> LockID {
        guard let id = LockID(hex: uid) else { throw .lockNotFound }
        return id
    }

    /// - Parameter host: the request's `Host`, or when the client sent none (HTTP/1.0) the
    ///   address it reached this server on.
    private func acquired(_ outcome: AcquireOutcome, host: String, json: Bool) throws(HTTPError) -> Response {
        switch outcome {
        case .granted(let lock):
            let path = LockRepresentation.lockPath(lock.resource, lock.id)
            let url = "http://\(host)\(path)"
            let headers = [("Location", url), ("RDLM-Fencing-Token", String(lock.fencingToken ?? 0))]
            if json {
                return .hal(LockRepresentation.lock(lock), status: .created, headers: headers)
            }
            return .html(.created, message: "lock acquired at \(url)", headers: headers)
        case .waitTimedOut: throw .waitTimedOut
        case .deleted: throw .requestDeleted
        case .refused(.tooManyWaiters):
            throw HTTPError(.serviceUnavailable, "too many waiters on this resource (limit \(shared.configuration.limits.table.maxWaitersPerResource))")
        case .refused(.tableFull), .refused(.wouldWait):
            throw HTTPError(.serviceUnavailable, "server is full (limit \(shared.configuration.limits.table.maxLocks) locks)")
        case .refused(.tooManyForClient):
            throw HTTPError(.serviceUnavailable, "too many locks for this client (limit \(shared.configuration.limits.table.maxLocksPerClient))")
        case .refused(.duplicateID):
            throw HTTPError(.serviceUnavailable, "lock id collision, please retry")
        case .shuttingDown, .abandoned: throw .shuttingDown
        }
    }

    private func localHost(context: ChannelHandlerContext) -> String {
        if let localHost { return localHost }
        let text = Self.hostAndPort(of: context.channel.localAddress) ?? "\(shared.configuration.host):\(shared.configuration.port)"
        localHost = text
        return text
    }

    private static func hostAndPort(of address: SocketAddress?) -> String? {
        guard let address, let ip = address.ipAddress, let port = address.port else { return nil }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    private static func wantsJSON(_ head: HTTPRequestHead) -> Bool {
        head.headers["accept"].contains { $0.lowercased().contains("application/json") }
    }

    // MARK: Answering

    /// Waits for the service on this connection's event loop, then answers.
    private func answer<Value: Sendable>(
        _ future: EventLoopFuture<Value>, context: ChannelHandlerContext,
        _ makeResponse: @escaping (Value) throws(HTTPError) -> Response
    ) {
        future.hop(to: context.eventLoop).assumeIsolated().whenComplete { [self] result in
            guard case .answering(let request, let parked) = state else { return }
            var response: Response
            do throws(HTTPError) {
                switch result {
                case .success(let value): response = try makeResponse(value)
                case .failure(let error):
                    shared.logger.error("lock service failed", metadata: ["error": "\(error)"])
                    throw HTTPError(.serviceUnavailable, "lock service unavailable")
                }
            } catch {
                response = .error(error, json: request.wantsJSON)
                response.closesConnection = error == .shuttingDown
            }
            if let parked, response.status == .created {
                deliverGrant(response, of: parked, context: context)
            } else {
                respond(response, context: context)
            }
        }
    }

    /// A grant reaches a client that may have left meanwhile: if so, or if the answer
    /// cannot be written, the lock is released instead of lingering as a ghost holder.
    private func deliverGrant(_ response: Response, of acquire: PendingAcquire, context: ChannelHandlerContext) {
        let service = shared.service
        let loop = context.eventLoop
        guard isActive else {
            state = .idle
            _ = service.release(acquire.id, on: acquire.resource, eventLoop: loop)
            return
        }
        let written = loop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in
            _ = service.release(acquire.id, on: acquire.resource, eventLoop: loop)
        }
        respond(response, context: context, written: written)
    }

    /// - Parameter written: completed once the answer is out (or could not be written);
    ///   most answers pass none, which spares a promise per request.
    private func respond(_ response: Response, context: ChannelHandlerContext, written: EventLoopPromise<Void>? = nil) {
        guard case .answering(let request, _) = state else {
            written?.succeed()
            return
        }
        let keepAlive = request.keepAlive && !response.closesConnection
        state = keepAlive ? .idle : .closing
        lastActivity = .now()
        write(response, version: request.version, keepAlive: keepAlive, includeBody: !request.isHEAD, context: context, written: written)
        if keepAlive { resumeInput(context: context) }
    }

    /// Answers a request before its body was read (too large), then closes the connection,
    /// since the rest of the body cannot be skipped reliably.
    private func refuseEarly(_ error: HTTPError, head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .closing
        write(.error(error, json: Self.wantsJSON(head)), version: head.version, keepAlive: false, includeBody: head.method != .HEAD, context: context)
    }

    /// Writes one whole answer; without keep-alive, closes the connection once it is out.
    private func write(_ response: Response, version: HTTPVersion, keepAlive: Bool, includeBody: Bool, context: ChannelHandlerContext, written: EventLoopPromise<Void>? = nil) {
        var buffer = context.channel.allocator.buffer(capacity: 192 + response.body.utf8.count)
        response.encode(into: &buffer, version: version, keepAlive: keepAlive, includeBody: includeBody)
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
            return
        }
        let closing = written ?? context.eventLoop.makePromise(of: Void.self)
        closing.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: closing)
    }
}
