import RDLMWire
/// Everything that can go wrong talking to `rdlmd`, as one type.
///
/// Compare with the static members to tell the kinds apart; the details (the server's
/// message, the HTTP status, curl's error code) ride along for logs and are not compared:
///
/// ```swift
/// do {
///     let lock = try await client.acquire("backup", wait: .zero)
/// } catch let error as RDLMError where error == .waitTimeout {
///     print("someone else holds the backup lock")
/// }
/// ```
///
/// Task cancellation is not an `RDLMError`: a cancelled request throws `CancellationError`.
public struct RDLMError: Error, Equatable, CustomStringConvertible, Sendable {
    private enum Code: String, Equatable, Sendable {
        case waitTimeout
        case deleted
        case notFound
        case badRequest
        case unauthorized
        case forbidden
        case serverError
        case transport
        case lockLost
        case unexpectedResponse
        case clientShutdown

        /// What a kind means, for errors that carry no message of their own.
        var explanation: String {
            switch self {
            case .waitTimeout: "the lock was not granted within the wait"
            case .deleted: "the waiting request was deleted by an administrator"
            case .notFound: "no such lock or resource"
            case .badRequest: "the server refused the request as malformed"
            case .unauthorized: "admin credentials missing or wrong"
            case .forbidden: "admin requests are disabled on this server"
            case .serverError: "the server could not serve the request"
            case .transport: "no answer from the server"
            case .lockLost: "the lock was lost while it was being used"
            case .unexpectedResponse: "the server's answer was not understood"
            case .clientShutdown: "the client is shut down"
            }
        }
    }

    private var code: Code

    /// The server's own words when it gave any (the `error` field of a JSON error), or curl's
    /// message for a transport error, or what this client found wrong.
    public private(set) var message: String?
    /// The HTTP status of the answer, when there was one.
    public private(set) var status: Int?
    /// curl's `CURLcode` for a transport error.
    public private(set) var curlCode: Int?
    /// The request that failed, such as `POST http://127.0.0.1:8888/locks/backup`.
    public private(set) var request: String?
    /// For a transport error after which another server may be tried: how far the request
    /// got (see ``NoAnswer``); nil for every other error.
    private(set) var noAnswer: NoAnswer?

    private init(_ code: Code, message: String? = nil, status: Int? = nil, curlCode: Int? = nil, request: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.curlCode = curlCode
        self.request = request
    }

    /// Errors of the same kind are equal, whatever their details.
    public static func == (lhs: RDLMError, rhs: RDLMError) -> Bool {
        lhs.code == rhs.code
    }

    /// One line for a log: kind, status, request, then the message.
    /// For example `RDLMError.waitTimeout (HTTP 408) on POST http://127.0.0.1:8888/locks/backup: lock not acquired within the wait`.
    public var description: String {
        var text = "RDLMError.\(code.rawValue)"
        if let status { text += " (HTTP \(status))" }
        if let curlCode { text += " (curl error \(curlCode))" }
        if let request { text += " on \(request)" }
        text += ": " + (message ?? code.explanation)
        return text
    }

    /// The lock was not granted within the request's `wait` (HTTP 408). With a wait of zero
    /// this means the resource is held right now.
    public static let waitTimeout = RDLMError(.waitTimeout)
    /// The waiting request was deleted by an administrator before it was granted (HTTP 409).
    public static let deleted = RDLMError(.deleted)
    /// The lock or resource does not exist (HTTP 404): released, expired, or deleted. A
    /// release (`DELETE` of a lock URL) answered 404 throws this: the lock is gone. A 404 to
    /// an acquire is ``badRequest`` instead.
    public static let notFound = RDLMError(.notFound)
    /// The server refused the request as malformed (HTTP 400 or 413); `message` says why.
    /// Also a 404 to an acquire (`POST /locks/{resource}`): the server did not accept the
    /// resource name, which is the caller's mistake and not a missing lock.
    public static let badRequest = RDLMError(.badRequest)
    /// An admin request lacked valid credentials (HTTP 401).
    public static let unauthorized = RDLMError(.unauthorized)
    /// Admin requests are disabled on this server (HTTP 403).
    public static let forbidden = RDLMError(.forbidden)
    /// The server could not serve the request (HTTP 5xx), for example because it is full or
    /// shutting down.
    public static let serverError = RDLMError(.serverError)
    /// No HTTP answer arrived: the connection failed, broke, or timed out. `curlCode` and
    /// `message` carry curl's diagnosis.
    public static let transport = RDLMError(.transport)
    /// A lock held by `withLock` disappeared (expired or deleted by an admin) while the body
    /// ran, so the body's work may no longer be protected.
    public static let lockLost = RDLMError(.lockLost)
    /// The server answered something this client does not understand.
    public static let unexpectedResponse = RDLMError(.unexpectedResponse)
    /// The client was shut down before or while the request ran.
    public static let clientShutdown = RDLMError(.clientShutdown)

    // MARK: Errors with details, made by the client

    static func transport(curlCode: Int, message: String, request: String, noAnswer: NoAnswer? = nil) -> RDLMError {
        var error = RDLMError(.transport, message: message, curlCode: curlCode, request: request)
        error.noAnswer = noAnswer
        return error
    }

    static func lockLost(_ message: String, request: String? = nil) -> RDLMError {
        RDLMError(.lockLost, message: message, request: request)
    }

    static func badRequest(_ message: String, request: String? = nil) -> RDLMError {
        RDLMError(.badRequest, message: message, request: request)
    }

    static func unexpectedResponse(_ message: String, status: Int? = nil, request: String? = nil) -> RDLMError {
        RDLMError(.unexpectedResponse, message: message, status: status, request: request)
    }

    static func clientShutdown(request: String? = nil) -> RDLMError {
        RDLMError(.clientShutdown, request: request)
    }

    /// The error for an answer that is not a success, read by the one table of what each
    /// status means for each request (`StatusMeaning`, shared with the server's module).
    static func status(_ status: Int, message: String?, request: String, kind: StatusMeaning.Request) -> RDLMError {
        let code: Code
        var message = message
        switch StatusMeaning(status: status, of: kind) {
        case .badRequest:
            code = .badRequest
            if status == 404 {
                message = "the server did not accept the resource name" + (message.map { " (\($0))" } ?? "")
            }
        case .unauthorized: code = .unauthorized
        case .forbidden: code = .forbidden
        case .notFound: code = .notFound
        case .waitTimedOut: code = .waitTimeout
        case .deleted: code = .deleted
        // A per-client limit is the server declining to serve more, as a full table is.
        case .serverError, .tooManyRequests: code = .serverError
        case .success, .notActive, .unexpected: code = .unexpectedResponse
        }
        return RDLMError(code, message: message, status: status, request: request)
    }
}
