import Logging
import NIOCore
import Synchronization

/// `--max-connections`: how many client connections are served at once. A connection
/// beyond it is answered `503` with a message and `Connection: close`, then closed, rather
/// than left unaccepted: its client learns at once that it should come back later, and the
/// descriptors stay with the connections being served.
final class ConnectionLimiter: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)
    /// The whole refusal, encoded once.
    let refusal: ByteBuffer
    private let logger: Logger
    private let refusalLog = Mutex(LogThrottle(interval: .seconds(10)))

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
        let answer = Response(
            status: .serviceUnavailable, headers: [("Retry-After", "1")],
            body: "too many connections: this server serves at most \(limit) at once; try again later\n",
            contentType: "text/plain; charset=UTF-8")
        var buffer = ByteBuffer()
        // Encoded once, so without a Date: RFC 9110 asks for one on 2xx-4xx answers only.
        answer.encode(into: &buffer, version: .http1_1, keepAlive: false, includeBody: true, date: nil)
        refusal = buffer
    }

    /// Connections holding a slot now.
    var count: Int { open.load(ordering: .relaxed) }

    /// Takes a slot for `channel`, given back when it closes; false when none is free.
    func admit(_ channel: any Channel) -> Bool {
        guard open.wrappingAdd(1, ordering: .relaxed).newValue <= limit else {
            open.wrappingSubtract(1, ordering: .relaxed)
            noteRefusal()
            return false
        }
        channel.closeFuture.whenComplete { _ in self.open.wrappingSubtract(1, ordering: .relaxed) }
        return true
    }

    private func noteRefusal() {
        guard let suppressed = refusalLog.withLock({ $0.admit() }) else { return }
        logger.warning("refusing connections with 503: --max-connections \(limit) reached", metadata: [
            "refused since last line": "\(suppressed + 1)",
        ])
    }
}

/// The only handler of a connection over the limit. It answers the client's first bytes
/// with the refusal and shuts its own side down, then reads and drops the rest until the
/// client closes or `linger` passes: answering before the request, or closing with unread
/// input (which makes the kernel reset the connection), can cost the client the 503. A
/// client that sends nothing gets the refusal when `linger` runs out.
final class ConnectionRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let linger = TimeAmount.seconds(1)

    private let refusal: ByteBuffer
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(refusal: ByteBuffer) {
        self.refusal = refusal
    }

    func channelActive(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) {
            if self.answered {
                context.close(promise: nil)
            } else {
                self.answered = true
                context.writeAndFlush(self.wrapOutboundOut(self.refusal)).whenComplete { [channel = context.channel] _ in
                    channel.close(promise: nil)
                }
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        context.writeAndFlush(wrapOutboundOut(refusal)).whenComplete { [channel = context.channel] _ in
            channel.close(mode: .output, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
