import NIOCore
import NIOHTTP1
import NIOPosix

/// Keep-alive connections to one member's gateway. Go's HTTP/1.1 server takes one request
/// at a time per connection, so requests in flight at once need as many connections: the
/// pool opens them on demand up to `maxConnections`, then queues. Used only on `eventLoop`.
final class GatewayConnectionPool {
    let endpoint: EtcdEndpoint
    let eventLoop: any EventLoop
    private let maxConnections: Int
    private let connectTimeout: TimeAmount
    private var idle: [GatewayConnection] = []
    /// Connections open or being opened.
    private var open = 0
    private var waiters = CircularBuffer<EventLoopPromise<GatewayConnection>>()
    private var isShutDown = false

    init(endpoint: EtcdEndpoint, eventLoop: any EventLoop, maxConnections: Int, connectTimeout: TimeAmount) {
        self.endpoint = endpoint
        self.eventLoop = eventLoop
        self.maxConnections = maxConnections
        self.connectTimeout = connectTimeout
    }

    /// A connection of this pool's with no exchange open; give it back with `release`.
    /// Fails with `ExchangeFailure.notSent` when the member cannot be reached.
    func lease() -> EventLoopFuture<GatewayConnection> {
        eventLoop.preconditionInEventLoop()
        guard !isShutDown else { return eventLoop.makeFailedFuture(ExchangeFailure.notSent("client shut down")) }
        while let connection = idle.popLast() {
            if connection.isUsable { return eventLoop.makeSucceededFuture(connection) }
        }
        if open < maxConnections { return connect() }
        let promise = eventLoop.makePromise(of: GatewayConnection.self)
        waiters.append(promise)
        return promise.futureResult
    }

    /// Takes back a leased connection: kept when `reusable` and still sound, else closed.
    func release(_ connection: GatewayConnection, reusable: Bool) {
        eventLoop.preconditionInEventLoop()
        guard reusable, connection.isUsable, !isShutDown else {
            connection.channel.close(promise: nil)
            return
        }
        if let waiter = waiters.popFirst() {
            waiter.succeed(connection)
        } else {
            idle.append(connection)
        }
    }

    /// Closes every connection; leases still queued fail.
    func shutdown() {
        eventLoop.preconditionInEventLoop()
        isShutDown = true
        while let waiter = waiters.popFirst() { waiter.fail(ExchangeFailure.notSent("client shut down")) }
        for connection in idle { connection.channel.close(promise: nil) }
        idle.removeAll()
    }

    private func connect() -> EventLoopFuture<GatewayConnection> {
        open += 1
        let endpoint = self.endpoint
        return Self.connect(to: endpoint, on: eventLoop, timeout: connectTimeout).assumeIsolated().flatMapErrorThrowing { error in
            self.open -= 1
            throw ExchangeFailure.notSent("cannot connect to \(endpoint): \(error)")
        }.map { connection in
            connection.channel.closeFuture.assumeIsolated().whenComplete { _ in self.connectionClosed(connection) }
            return connection
        }.nonisolated()
    }

    private func connectionClosed(_ connection: GatewayConnection) {
        open -= 1
        idle.removeAll { $0.channel === connection.channel }
        // A queued lease waited for a connection to come back; this one never will, so it
        // gets a new one.
        if !isShutDown, let waiter = waiters.popFirst() {
            connect().cascade(to: waiter)
        }
    }

    /// A new connection to `endpoint`'s gateway, outside any pool (a watch keeps its own).
    static func connect(to endpoint: EtcdEndpoint, on eventLoop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<GatewayConnection> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(GatewayConnectionHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMapThrowing { channel in
                GatewayConnection(channel: channel, handler: try channel.pipeline.syncOperations.handler(type: GatewayConnectionHandler.self))
            }
    }
}
