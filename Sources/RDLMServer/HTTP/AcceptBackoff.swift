import Logging
import NIOCore

/// Pauses accepting after an accept fails. Out of descriptors (EMFILE), an accept fails at
/// once and the listening socket stays readable, so the accept loop retried about 730,000
/// times a second on one core, silently (issue 12). After a failure this stops reading the
/// listening socket for `pause`, short enough that service resumes as soon as descriptors
/// free up, and says so in the log at most once per `logInterval`.
///
/// NIO's `AcceptBackoffHandler` is not enough here: it holds back the next `read()`, but
/// NIOPosix (2.101) leaves a read pending after a failed accept, so the socket stays
/// registered with epoll (level-triggered) and the loop kept spinning (measured: 47 % CPU,
/// about 5,000 failing accept4 calls a second under strace). Turning `autoRead` off
/// unregisters the socket; turning it back on registers it and accepts again.
///
/// Used only on the listening socket's event loop.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    static let pause = TimeAmount.milliseconds(50)
    static let logInterval = Duration.seconds(10)

    private let limiter: ConnectionLimiter
    private let logger: Logger
    private var log = LogThrottle(interval: AcceptBackoff.logInterval)
    private var resume: Scheduled<Void>?

    init(limiter: ConnectionLimiter, logger: Logger) {
        self.limiter = limiter
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is IOError else {
            context.fireErrorCaught(error)
            return
        }
        if let suppressed = log.admit() {
            logger.warning("cannot accept connections; pausing accepts \(Self.pause.nanoseconds / 1_000_000) ms after each failure", metadata: [
                "error": "\(error)", "open connections": "\(limiter.count)",
                "failures since last line": "\(suppressed + 1)",
            ])
        }
        guard resume == nil, let options = context.channel.syncOptions else { return }
        do {
            try options.setOption(.autoRead, value: false)
        } catch {
            return
        }
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) {
            self.resume = nil
            try? options.setOption(.autoRead, value: true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        context.fireChannelInactive()
    }
}
