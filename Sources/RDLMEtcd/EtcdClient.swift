import Logging
import NIOCore
import RDLMWire

/// An etcd v3 client over etcd's JSON gateway (HTTP/1.1), for the etcd backend.
///
/// - Requests stick to one member and move to the next when it cannot be reached, or says it
///   cannot serve (no leader, not capable...), within the request's `requestTimeout`.
/// - Every request ends within `requestTimeout`. A write that was sent and got no answer
///   fails `.outcomeUnknown` and is never resent; reads and keep-alives are resent.
/// - Futures complete on `eventLoop`, where all of the client's state lives: no locks.
public final class EtcdClient: Sendable {
    /// At most this many connections to one member; more requests at once wait for one.
    public static let maxConnectionsPerEndpoint = 64

    public let eventLoop: any EventLoop
    let endpoints: [EtcdEndpoint]
    let requestTimeout: Duration
    let watchReconnectWindow: Duration
    let logger: Logger
    let state: NIOLoopBoundBox<EtcdClientState>
    /// Told how long each request took, answered or not (for a latency histogram).
    let requestFinished: (@Sendable (Duration) -> Void)?

    /// `endpoints` are client URLs (`http://127.0.0.1:2379`); an invalid one is a programming
    /// error. A watch that no member serves for `watchReconnectWindow` ends `.unavailable`.
    public init(
        endpoints: [String], eventLoopGroup: any EventLoopGroup, requestTimeout: Duration = .seconds(2),
        watchReconnectWindow: Duration = .seconds(3), logger: Logger,
        requestFinished: (@Sendable (Duration) -> Void)? = nil
    ) {
        self.requestFinished = requestFinished
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.endpoints = endpoints.map { url in
            guard let endpoint = EtcdEndpoint(url) else { preconditionFailure("not an etcd client URL: \(url)") }
            return endpoint
        }
        self.eventLoop = eventLoopGroup.next()
        self.requestTimeout = requestTimeout
        self.watchReconnectWindow = watchReconnectWindow
        self.logger = logger
        let connectTimeout = TimeAmount(min(requestTimeout, .seconds(1)))
        let loop = self.eventLoop
        self.state = NIOLoopBoundBox.makeBoxSendingValue(
            EtcdClientState(pools: self.endpoints.map { endpoint in
                GatewayConnectionPool(endpoint: endpoint, eventLoop: loop, maxConnections: Self.maxConnectionsPerEndpoint, connectTimeout: connectTimeout)
            }),
            eventLoop: loop
        )
    }

    /// Closes every connection and cancels every watch. Requests after it fail `.unavailable`.
    public func shutdown() -> EventLoopFuture<Void> {
        onLoop { [self] in
            let state = self.state.value
            state.isShutDown = true
            for watch in state.watches.values { watch.cancel() }
            state.watches.removeAll()
            for pool in state.pools { pool.shutdown() }
            return self.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Runs `body` on the client's loop, at once when already there.
    func onLoop<Value: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<Value>) -> EventLoopFuture<Value> {
        eventLoop.inEventLoop ? body() : eventLoop.flatSubmit(body)
    }

    /// POSTs `body` to `path`, with failover, and parses the answer.
    func call(_ path: String, _ body: JSONValue, idempotent: Bool) -> EventLoopFuture<GatewayObject> {
        let text = body.serialized
        let answer = onLoop { [self] in
            EtcdCall(client: self, path: path, body: text, idempotent: idempotent).start()
        }
        guard let requestFinished else { return answer }
        let started = ContinuousClock.now
        answer.whenComplete { _ in requestFinished(ContinuousClock.now - started) }
        return answer
    }

    /// The member requests go to now.
    func preferredEndpoint() -> Int { state.value.preferred }

    /// `index` failed: requests move on to the next member, unless they have already.
    func endpointFailed(_ index: Int, _ reason: String) {
        let state = self.state.value
        guard state.preferred == index else { return }
        state.preferred = (index + 1) % endpoints.count
        logger.debug("etcd endpoint failed, moving on", metadata: [
            "endpoint": "\(endpoints[index])", "next": "\(endpoints[state.preferred])", "reason": "\(reason)",
        ])
    }
}

/// The client's state, on its event loop only.
final class EtcdClientState {
    let pools: [GatewayConnectionPool]
    var preferred = 0
    var isShutDown = false
    var watches: [ObjectIdentifier: WatchStream] = [:]

    init(pools: [GatewayConnectionPool]) {
        self.pools = pools
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
