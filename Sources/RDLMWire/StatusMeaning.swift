/// What an answer's status means to a client, for each kind of request: the one table
/// that the Swift client, and through it `rdlm`, read statuses by. (The C and shell clients
/// keep their own copies on purpose, and test the same rules: they prove the protocol is
/// enough.)
public enum StatusMeaning: Sendable, Equatable {
    case success
    /// 408: the wait ran out (at once for a try-lock on a held resource).
    case waitTimedOut
    /// 409 on acquire: the waiting request was deleted (by an admin, or by a release of
    /// its URL).
    case deleted
    /// 400, 413, 414, 431, and 404 on acquire: the server refused what was asked (a 404 on
    /// acquire means it did not accept the resource name).
    case badRequest
    /// 404 on a lock URL: released, expired or deleted.
    case notFound
    /// 409 on refresh: the lock is still waiting.
    case notActive
    /// 401: admin credentials missing or wrong.
    case unauthorized
    /// 403: admin requests are disabled.
    case forbidden
    /// 429: a limit per client was reached.
    case tooManyRequests
    /// 5xx: 503 when full, shutting down, or when the backend cannot decide.
    case serverError
    /// Anything the protocol does not allow for this request.
    case unexpected

    /// The requests a client makes.
    public enum Request: Sendable {
        case acquire, show, refresh, release, admin
    }

    public init(status: Int, of request: Request) {
        switch (status, request) {
        case (201, .acquire), (200, .show), (200, .refresh), (200, .admin), (204, .admin), (200, .release), (204, .release):
            self = .success
        case (408, .acquire): self = .waitTimedOut
        case (409, .acquire): self = .deleted
        case (409, .refresh): self = .notActive
        case (404, .acquire), (400, _), (413, _), (414, _), (431, _): self = .badRequest
        case (404, _): self = .notFound
        case (401, _): self = .unauthorized
        case (403, _): self = .forbidden
        case (429, _): self = .tooManyRequests
        case (500...599, _): self = .serverError
        default: self = .unexpected
        }
    }
}
