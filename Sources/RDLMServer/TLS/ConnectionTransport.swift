/// What a connection's transport says about its requests: set once per connection, before
/// its first request (by `TLSHandshakeGuard` on a TLS port), read by `ConnectionHandler`.
struct ConnectionTransport {
    /// `https` when the connection is TLS, for `Location`.
    var scheme: String
    /// The client presented a verified certificate whose subject `--tls-admin-subject`
    /// names: its admin requests need no Basic credentials.
    var isCertifiedAdmin: Bool

    static let plain = ConnectionTransport(scheme: "http", isCertifiedAdmin: false)
}
