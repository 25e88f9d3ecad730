import NIOCore
import NIOHTTP1

extension ConnectionHandler {
    /// What answering needs to know of a request. Kept instead of its head while the answer
    /// is pending, so a parked acquire does not keep the head's header storage alive.
    struct Request {
        var version: HTTPVersion
        var keepAlive: Bool
        var isHEAD: Bool
        var wantsJSON: Bool
        /// Tells this request's answer from a late one of an earlier request.
        var number: UInt64

        init(_ head: HTTPRequestHead, number: UInt64) {
            version = head.version
            keepAlive = head.isKeepAlive
            isHEAD = head.method == .HEAD
            wantsJSON = ConnectionHandler.wantsJSON(head)
            self.number = number
        }
    }

    static func hostAndPort(of address: SocketAddress?) -> String? {
        guard let address, let ip = address.ipAddress, let port = address.port else { return nil }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    static func wantsJSON(_ head: HTTPRequestHead) -> Bool {
        head.headers.value(of: "accept", contains: "application/json")
    }
}

extension EventSink {
    /// Writes to the connection of `context`, on its event loop.
    init(connection context: ChannelHandlerContext) {
        self.init(
            write: { buffer in context.writeAndFlush(NIOAny(buffer), promise: nil) },
            isWritable: { context.channel.isWritable },
            close: { context.close(promise: nil) },
            finish: { buffer in
                let written = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(NIOAny(buffer), promise: written)
                let late = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(5)) { context.close(promise: nil) }
                written.futureResult.assumeIsolated().whenComplete { _ in
                    late.cancel()
                    context.close(promise: nil)
                }
            })
    }
}
