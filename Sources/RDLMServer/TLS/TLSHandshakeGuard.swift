import NIOCore
import NIOSSL
import NIOTLS

/// Sits right behind the TLS handler until its handshake completes: closes a connection
/// whose handshake has not completed within `--request-timeout` (a client that opens a
/// connection and stalls mid-handshake holds a descriptor, not the loop), then tells the
/// connection handler what the handshake established, and leaves the pipeline, so requests
/// pass one handler fewer.
final class TLSHandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let tls: NIOSSLServerHandler
    private let connection: ConnectionHandler
    private let admins: CertificateAdmins
    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(tls: NIOSSLServerHandler, connection: ConnectionHandler, admins: CertificateAdmins, timeout: TimeAmount) {
        self.tls = tls
        self.connection = connection
        self.admins = admins
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            deadline?.cancel()
            deadline = nil
            connection.transport = ConnectionTransport(scheme: "https", isCertifiedAdmin: admins.admits(tls.peerCertificate))
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
