import NIOCore

/// Sits before the request decoder and tells the connection handler when bytes arrive, so
/// that a request's deadline counts from its first byte: the decoder reports nothing until
/// a whole head has arrived, however long that takes.
final class RequestStartObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connection: ConnectionHandler

    init(_ connection: ConnectionHandler) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.inputArrived()
        context.fireChannelRead(data)
    }
}
