import NIOCore

/// Sits in front of the TLS handler and looks at a connection's first byte: a TLS
/// handshake starts with a handshake record (22), an HTTP request with a method's capital
/// letter. Plain HTTP gets a plain 400 that says HTTPS is required, instead of a TLS alert
/// the client cannot show; anything else goes on to the TLS handler, which refuses what
/// is not TLS. After the first byte this handler leaves the pipeline.
final class PlainHTTPRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        refused = true
        let response = Response(
            status: .badRequest, body: "HTTPS required: this port speaks TLS; use an https:// URL\n",
            contentType: "text/plain; charset=UTF-8")
        var buffer = context.channel.allocator.buffer(capacity: 256)
        response.encode(into: &buffer, version: .http1_1, keepAlive: false, includeBody: true, date: nil)
        // Written below the TLS handler, straight to the socket.
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
