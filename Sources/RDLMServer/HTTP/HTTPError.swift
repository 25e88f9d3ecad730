import NIOHTTP1

/// An answer that is an error: a status and a short message for the client.
struct HTTPError: Error {
    var status: HTTPResponseStatus
    var message: String
    /// Extra headers, such as `WWW-Authenticate` or `Allow`.
    var headers: [(String, String)] = []
    /// Close the connection after this answer (the server is stopping, say).
    var closesConnection = false

    init(_ status: HTTPResponseStatus, _ message: String, headers: [(String, String)] = [], closesConnection: Bool = false) {
        self.status = status
        self.message = message
        self.headers = headers
        self.closesConnection = closesConnection
    }

    static let lockNotFound = HTTPError(.notFound, "lock not found")
    static let waitTimedOut = HTTPError(.requestTimeout, "lock request (wait) timeout")
    static let requestDeleted = HTTPError(.conflict, "lock request deleted")
    static let shuttingDown = HTTPError(.serviceUnavailable, "server is shutting down", closesConnection: true)
}
