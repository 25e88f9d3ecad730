import NIOHTTP1

/// An answer that is an error: a status and a short message for the client.
struct HTTPError: Error, Equatable {
    var status: HTTPResponseStatus
    var message: String
    /// Extra headers, such as `WWW-Authenticate` or `Allow`.
    var headers: [(String, String)] = []

    init(_ status: HTTPResponseStatus, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    static func == (lhs: HTTPError, rhs: HTTPError) -> Bool {
        lhs.status == rhs.status && lhs.message == rhs.message
    }

    static let lockNotFound = HTTPError(.notFound, "lock not found")
    static let waitTimedOut = HTTPError(.requestTimeout, "lock request (wait) timeout")
    static let requestDeleted = HTTPError(.conflict, "lock request deleted")
    static let shuttingDown = HTTPError(.serviceUnavailable, "server is shutting down")
}
