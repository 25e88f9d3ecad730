import NIOCore
import NIOHTTP1

/// How one exchange on a gateway connection ended without an answer.
enum ExchangeFailure: Error {
    /// Not sent: another member may take the request.
    case notSent(String)
    /// Sent, then the connection was lost before the whole answer came.
    case lostAfterSend(String)
}

/// A complete answer: its status and body.
struct GatewayResponse {
    var status: HTTPResponseStatus
    var body: ByteBuffer
    var keepAlive: Bool
}

/// The handler of one HTTP/1.1 connection to a gateway, which answers one request at a
/// time (Go's net/http): at most one exchange is open. A unary exchange collects its whole
/// answer; a streaming one (a watch) hands on its body as it comes.
final class GatewayConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    enum Exchange {
        case unary(EventLoopPromise<GatewayResponse>)
        case stream(GatewayStreamDelegate)
    }

    private var exchange: Exchange?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private(set) var isClosed = false

    var isIdle: Bool { exchange == nil && !isClosed }

    func begin(_ exchange: Exchange) {
        precondition(self.exchange == nil, "one exchange at a time on a gateway connection")
        self.exchange = exchange
        head = nil
        body = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            if case .stream(let delegate) = exchange { delegate.streamDidReceive(head: head) }
        case .body(var part):
            switch exchange {
            case .unary:
                if body == nil { body = part } else { body!.writeBuffer(&part) }
            case .stream(let delegate):
                delegate.streamDidReceive(body: part)
            case nil:
                break
            }
        case .end:
            let finished = exchange
            exchange = nil
            guard let head else { return }
            switch finished {
            case .unary(let promise):
                promise.succeed(GatewayResponse(status: head.status, body: body ?? ByteBuffer(), keepAlive: head.isKeepAlive))
            case .stream(let delegate):
                delegate.streamDidEnd(error: nil)
            case nil:
                break
            }
            if !head.isKeepAlive { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        fail(ExchangeFailure.lostAfterSend("connection closed before the answer was complete"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(ExchangeFailure.lostAfterSend("connection failed: \(error)"))
        context.close(promise: nil)
    }

    /// Ends the open exchange, if any, with `error`.
    func fail(_ error: ExchangeFailure) {
        guard let failed = exchange else { return }
        exchange = nil
        switch failed {
        case .unary(let promise): promise.fail(error)
        case .stream(let delegate): delegate.streamDidEnd(error: error)
        }
    }
}

/// Whoever reads a streaming answer; called on the connection's event loop.
protocol GatewayStreamDelegate: AnyObject {
    func streamDidReceive(head: HTTPResponseHead)
    func streamDidReceive(body: ByteBuffer)
    func streamDidEnd(error: ExchangeFailure?)
}

/// A connection: its channel and its handler. Sendable only so that futures can carry it:
/// it is used on the channel's event loop alone (the pool's and the client's).
struct GatewayConnection: @unchecked Sendable {
    let channel: any Channel
    let handler: GatewayConnectionHandler

    var isUsable: Bool { channel.isActive && handler.isIdle }

    /// Writes a POST of `body` to `path`. The exchange must have begun.
    func post(_ path: String, body: String, endpoint: EtcdEndpoint) -> EventLoopFuture<Void> {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.description)
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        // A member cut off from the leader refuses at once instead of waiting on a proposal,
        // and closes a watch within seconds instead of keeping it open and silent.
        headers.add(name: "Grpc-Metadata-Hasleader", value: "true")
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(string: body))), promise: nil)
        return channel.writeAndFlush(HTTPClientRequestPart.end(nil))
    }
}
