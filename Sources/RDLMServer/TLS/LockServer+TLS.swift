import NIOCore
import NIOSSL

extension LockServer {
    /// A TLS connection's handlers, in front of the HTTP ones: the plain-HTTP check on
    /// raw bytes, TLS with the context in force now, and the handshake's guard. Plain
    /// HTTP gets none of them.
    static func addTLSHandlers(_ tls: TLSContextStore, connection: ConnectionHandler, timeout: TimeAmount, to pipeline: ChannelPipeline.SynchronousOperations) throws {
        let handler = NIOSSLServerHandler(context: tls.context)
        try pipeline.addHandler(PlainHTTPRefusal())
        try pipeline.addHandler(handler)
        try pipeline.addHandler(TLSHandshakeGuard(tls: handler, connection: connection, admins: tls.admins, timeout: timeout))
    }
}
