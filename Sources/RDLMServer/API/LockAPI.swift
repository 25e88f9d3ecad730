import Logging
import NIOCore
import RDLMCore

/// A lock an acquire was granted, carried by its 201 so that the connection can release it
/// if the answer never reaches the client.
struct GrantedLock: Equatable, Sendable {
    var id: LockID
    var resource: String
}

/// An admitted request, as the lock API needs it.
struct APIRequest {
    var endpoint: Endpoint
    var body: [UInt8]
    /// `Accept: application/json`: errors (and the 201) as JSON.
    var wantsJSON: Bool
    /// Where `Location` starts, such as `http://127.0.0.1:8888`; used by acquires only.
    var locationBase: String
    /// The peer address, for the per-client quota (nil: not counted).
    var client: String?
    /// The uid the client chose for its acquire (`RDLM-Request-Id`); nil: a random one.
    var requestID: LockID? = nil
}

/// The lock API: an endpoint and its body become a call to the lock service, and its
/// outcome becomes a `Response`. Knows nothing of connections, so it is tested without one.
struct LockAPI: Sendable {
    let service: any LockService
    let decoder: LockRequestDecoder
    let metrics: ServerMetrics
    /// `GET /events`'s feed.
    let events: LockEventHub
    /// Open connections now, for `rdlm_open_connections`.
    let connections: @Sendable () -> Int
    let logger: Logger

    init(service: any LockService, limits: RequestLimits, metrics: ServerMetrics, events: LockEventHub, connections: @escaping @Sendable () -> Int, logger: Logger) {
        self.service = service
        self.events = events
        self.decoder = LockRequestDecoder(limits: limits)
        self.metrics = metrics
        self.connections = connections
        self.logger = logger
    }

    /// Answers `request` through `completion`, on `eventLoop` (the caller's), at once or
    /// when the service decides.
    /// - Returns: for an acquire, the lock to `abandon` should the client leave before the
    ///   answer. `completion` may already have run when this returns.
    @discardableResult
    func respond(to request: APIRequest, eventLoop: any EventLoop, completion answered: @escaping (Response) -> Void) -> GrantedLock? {
        let json = request.wantsJSON
        let metrics = metrics
        let started = ContinuousClock.now
        let label = request.endpoint.metricsLabel
        let completion = { (response: Response) in
            metrics.answered(label, after: ContinuousClock.now - started)
            answered(response)
        }
        do throws(HTTPError) {
            switch request.endpoint {
            case .home:
                completion(Response(status: .ok, body: "Welcome on restful-distributed-lock-manager !", contentType: "text/html; charset=UTF-8"))

            case .openAPIDocument:
                completion(Response(status: .ok, body: OpenAPIDocument.text, contentType: OpenAPIDocument.contentType))

            case .health:
                completion(Response(status: .ok, body: #"{"alive":true}"#, contentType: "application/json"))

            case .ready:
                // Readiness never fails: a check that cannot finish is reported not ok.
                answer(service.readiness(eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { checks in
                    Response(status: checks.allSatisfy(\.ok) ? .ok : .serviceUnavailable, headers: [("Cache-Control", "no-store")], body: checks.json, contentType: "application/json")
                }

            case .ui(let page):
                completion(page.response)

            case .events:
                // The connection serves streams itself (`openStream`); nothing else asks.
                throw HTTPError(.badRequest, "the event stream is served by the connection")

            case .metrics:
                let body = metrics.exposition(levels: service.metricsLevels(), connections: connections(), streams: events.subscriberCount)
                completion(Response(status: .ok, headers: [("Cache-Control", "no-store")], body: body, contentType: ServerMetrics.contentType))

            case .acquire(let resource):
                var lockRequest: LockRequest
                do throws(HTTPError) {
                    lockRequest = try decoder.acquireRequest(from: request.body)
                } catch {
                    metrics.acquired(.refusedClientError)
                    throw error
                }
                lockRequest.client = request.client
                let id = request.requestID ?? LockID.random()
                let base = request.locationBase
                let named = request.requestID != nil
                let unavailable = { metrics.acquired(.refusedUnavailable) }
                answer(service.acquire(lockRequest, on: resource, id: id, eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion, failed: unavailable) { outcome throws(HTTPError) in
                    metrics.record(outcome, since: started)
                    return try Self.acquired(outcome, locationBase: base, json: json, namedByClient: named)
                }
                return GrantedLock(id: id, resource: resource)

            case .show(let resource, let uid):
                let id = try Self.lockID(uid)
                answer(service.lock(id, on: resource, eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { lock throws(HTTPError) in
                    guard let lock else { throw .lockNotFound }
                    return .hal(LockRepresentation.lock(lock))
                }

            case .refresh(let resource, let uid):
                let id = try Self.lockID(uid)
                let lifetime = try decoder.refreshLifetime(from: request.body)
                answer(service.refresh(id, on: resource, lifetime: lifetime, eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { result throws(HTTPError) in
                    switch result {
                    case .refreshed(let lock):
                        metrics.refreshed()
                        return .hal(LockRepresentation.lock(lock))
                    case .notActive: throw HTTPError(.conflict, "lock is still waiting; only an active lock can be refreshed")
                    case .notFound: throw .lockNotFound
                    }
                }

            case .release(let resource, let uid):
                let id = try Self.lockID(uid)
                answer(service.release(id, on: resource, eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { released throws(HTTPError) in
                    guard released else { throw .lockNotFound }
                    metrics.released()
                    return .noContent()
                }

            case .resourceList:
                answer(service.resourceNames(eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { names in
                    .hal(LockRepresentation.resources(names))
                }

            case .resource(let resource):
                answer(service.locks(on: resource, eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { locks in
                    .hal(LockRepresentation.resource(resource, locks: locks))
                }

            case .deleteResource(let resource):
                answer(service.deleteResource(resource, eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { deleted throws(HTTPError) in
                    guard deleted else { throw HTTPError(.notFound, "no resource (with locks) found") }
                    metrics.adminDeleted(all: false)
                    return .noContent()
                }

            case .deleteAll:
                answer(service.deleteAll(eventLoop: eventLoop), json: json, eventLoop: eventLoop, completion) { _ in
                    metrics.adminDeleted(all: true)
                    return .noContent()
                }
            }
        } catch {
            completion(.error(error, json: json))
        }
        return nil
    }

    /// Opens `GET /events` for a connection on `loop`: its subscription, and its first bytes.
    /// - Throws: 503 when the backend cannot follow the changes now (etcd unreachable).
    func openStream(resource: String?, lastEventID: String?, loop: any EventLoop, sink: EventSink) throws(HTTPError) -> (EventSubscription, ByteBuffer) {
        guard let source = service as? any LockEventSource else {
            throw HTTPError(.serviceUnavailable, "this backend publishes no events")
        }
        let hub = events
        let subscription = EventSubscription(
            loop: loop, resource: resource, settings: hub.settings, sink: sink,
            onOverflow: { [metrics] in metrics.streamDropped() })
        let opening: LockEventHub.Opening
        do {
            opening = try source.subscribe(subscription, to: hub, lastEventID: lastEventID)
        } catch {
            throw HTTPError(.serviceUnavailable, error.reason)
        }
        return (subscription, opening.encoded(epoch: hub.epoch))
    }

    /// The connection of a stream closed.
    func endStream(_ subscription: EventSubscription) {
        subscription.ended()
        events.unsubscribe(subscription)
    }

    /// The client of a pending acquire left.
    func abandon(_ acquire: GrantedLock) {
        service.abandon(acquire.id, on: acquire.resource)
    }

    /// A grant whose 201 could not be delivered: released at once rather than held by
    /// nobody for its whole lifetime.
    func releaseUndelivered(_ grant: GrantedLock, eventLoop: any EventLoop) {
        logger.debug("grant not delivered, releasing", metadata: ["resource": "\(grant.resource)", "lock": "\(grant.id)"])
        _ = service.release(grant.id, on: grant.resource, eventLoop: eventLoop)
    }

    /// Waits for the service on `eventLoop`, then answers.
    /// - Parameter failed: called when the service could not decide (the answer is a 503).
    private func answer<Value: Sendable>(
        _ future: EventLoopFuture<Value>, json: Bool, eventLoop: any EventLoop, _ completion: @escaping (Response) -> Void,
        failed: (() -> Void)? = nil, _ makeResponse: @escaping (Value) throws(HTTPError) -> Response
    ) {
        let logger = logger
        future.hop(to: eventLoop).assumeIsolated().whenComplete { result in
            do throws(HTTPError) {
                switch result {
                case .success(let value):
                    completion(try makeResponse(value))
                case .failure(let error as LockServiceUnavailable):
                    failed?()
                    throw HTTPError(.serviceUnavailable, "lock service unavailable: \(error.reason)")
                case .failure(let error):
                    failed?()
                    logger.error("lock service failed", metadata: ["error": "\(error)"])
                    throw HTTPError(.serviceUnavailable, "lock service unavailable")
                }
            } catch {
                var response = Response.error(error, json: json)
                response.closesConnection = error.closesConnection
                completion(response)
            }
        }
    }

    private static func lockID(_ uid: Substring) throws(HTTPError) -> LockID {
        guard let id = LockID(hex: uid) else { throw .lockNotFound }
        return id
    }

    /// The answer to an acquire. A 201 carries its grant, for `releaseUndelivered`.
    /// - Parameter namedByClient: the uid is the client's `RDLM-Request-Id`, not a random one.
    static func acquired(_ outcome: AcquireOutcome, locationBase: String, json: Bool, namedByClient: Bool = false) throws(HTTPError) -> Response {
        switch outcome {
        case .granted(let lock, _):
            let url = locationBase + LockRepresentation.lockPath(lock.resource, lock.id)
            let headers = [("Location", url), ("RDLM-Fencing-Token", String(lock.fencingToken ?? 0))]
            var response = json
                ? Response.hal(LockRepresentation.lock(lock), status: .created, headers: headers)
                : Response.html(.created, message: "lock acquired at \(url)", headers: headers)
            response.grant = GrantedLock(id: lock.id, resource: lock.resource)
            return response
        case .waitTimedOut: throw .waitTimedOut
        case .deleted: throw .requestDeleted
        case .refused(.tooManyWaiters(let limit)):
            throw HTTPError(.serviceUnavailable, "too many waiters on this resource (limit \(limit))")
        case .refused(.tableFull(let limit)):
            throw HTTPError(.serviceUnavailable, "server is full (limit \(limit) locks)")
        case .refused(.tooManyForClient(let limit)):
            throw HTTPError(.tooManyRequests, "this client already holds or waits for \(limit) locks, the limit per client (--max-locks-per-client)", headers: [("Retry-After", "1")])
        case .refused(.duplicateID) where namedByClient:
            // The client's own id names a lock on another resource: retrying cannot help,
            // so it is the client's error (4xx), not the server's.
            throw HTTPError(.conflict, "this \(Admission.requestIDHeader) is the uid of a lock on another resource; send a fresh one for each acquire")
        case .refused(.duplicateID):
            throw HTTPError(.serviceUnavailable, "lock id collision, please retry")
        case .refused(.requestInProgress):
            throw HTTPError(.serviceUnavailable, "an acquire with this \(Admission.requestIDHeader) is still waiting on another connection; retry once that one has closed")
        case .shuttingDown, .abandoned: throw .shuttingDown
        }
    }
}
