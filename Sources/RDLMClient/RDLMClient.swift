import Foundation
import RDLMWire

/// A client of `rdlmd`, the RESTful distributed lock manager.
///
/// One client carries any number of concurrent requests, blocked acquires included, over
/// one libcurl multi handle driven by a thread of its own; connections are kept open and
/// reused. Share one client across a program. Shut it down when done, or use
/// ``withClient(configuration:isolation:_:)``, which does so:
///
/// ```swift
/// try await RDLMClient.withClient(configuration: .init(baseURL: URL(string: "http://127.0.0.1:8888")!)) { client in
///     try await client.withLock("backup", lifetime: .seconds(60)) { lock in
///         try await runBackup(fencingToken: lock.fencingToken)
///     }
/// }
/// ```
public final class RDLMClient: Sendable {
    /// This library's version, part of the default title.
    public static let version = RDLMVersion.current

    /// The settings this client was made with.
    public let configuration: Configuration
    let transport: CurlTransport
    /// The configured servers, and the one that answered last.
    let servers: ServerList
    /// The server requests start at now, as text without a trailing slash.
    var base: String { servers.current }

    /// Starts a client (and its curl thread).
    /// - Parameter configuration: the daemons' addresses and the request defaults.
    /// - Throws: ``RDLMError/badRequest`` when the configuration lists no server;
    ///   ``RDLMError/transport`` when libcurl cannot be initialised or the process has no
    ///   file descriptor left for the client's wake-up pipe.
    public init(configuration: Configuration = Configuration()) throws {
        guard !configuration.servers.isEmpty else {
            throw RDLMError.badRequest("the configuration lists no server")
        }
        self.configuration = configuration
        servers = ServerList(configuration.servers)
        transport = try CurlTransport(maximumConnections: configuration.maximumConnections) { location, acquire in
            // The server that granted it: a relative `Location` is below that one.
            let granting = Self.split(lockURL: acquire.url)?.server ?? acquire.url
            return Self.lockURL(location: location, base: granting).map { url in
                Self.makeRequest(.delete, url.absoluteString, admin: false, configuration: configuration)
            }
        }
    }

    /// Stops the curl thread without waiting. Releases queued by ``OwnedLock`` still get a
    /// short grace period to go out.
    deinit {
        transport.stop()
    }

    /// Makes a client, runs `body` with it, and shuts the client down whether `body`
    /// returns or throws.
    /// - Parameters:
    ///   - configuration: the daemon's address and the request defaults.
    ///   - isolation: the caller's actor, where `body` runs.
    ///   - body: what to do with the client.
    /// - Returns: what `body` returns.
    public static func withClient<Result>(
        configuration: Configuration = Configuration(),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RDLMClient) async throws -> sending Result
    ) async throws -> sending Result {
        let client = try RDLMClient(configuration: configuration)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
        return result
    }

    /// A task executor that runs tasks on this client's own curl thread.
    ///
    /// A task that prefers it (`Task(executorPreference: client.taskExecutor) { … }` or
    /// `withTaskExecutorPreference(client.taskExecutor) { … }`) is resumed by each answer
    /// right on the thread that read it, and its next request is queued there without
    /// waking another thread: about two thread switches fewer per request, which matters
    /// for tight acquire/release loops. While such a task runs, no other request of this
    /// client makes progress, so never block or compute for long on it. After shutdown,
    /// its tasks move to the global concurrent executor.
    public var taskExecutor: any TaskExecutor { transport }

    /// Stops the client: requests still in flight fail with ``RDLMError/clientShutdown``,
    /// releases sent by ``OwnedLock`` without waiting get up to a second to finish, and
    /// every connection is closed. Later requests fail with ``RDLMError/clientShutdown``.
    public func shutdown() async {
        await transport.shutdown()
    }

    // MARK: Locks

    /// Acquires a lock on `resource`, waiting up to `wait` for it.
    ///
    /// The request carries an `RDLM-Request-Id` of its own, which the daemon makes the
    /// lock's uid. When a server gives no answer, the same request (same id) goes to the
    /// next one; should that server answer 503 because the acquire is still waiting on the
    /// lost connection of an earlier attempt, it is sent there again after a pause (0.1 s,
    /// doubling up to 1 s) until it is answered otherwise or `wait` plus the request
    /// timeout, counted from the first attempt, has passed.
    ///
    /// Cancelling the task while the request waits withdraws it: the connection is closed
    /// and the server drops the waiter, and this throws `CancellationError`.
    /// - Parameters:
    ///   - resource: the resource's name, ASCII letters and digits.
    ///   - lifetime: the lease; the server releases the lock after it unless refreshed.
    ///   - wait: how long to wait for the lock; zero gives up at once if it is held.
    ///   - mode: exclusive (the default) or shared.
    ///   - title: what the server shows for this lock; the configured default if nil.
    /// - Returns: the granted lock.
    /// - Throws: ``RDLMError/waitTimeout`` when the wait ran out, ``RDLMError/deleted`` when
    ///   an admin deleted the waiting request, ``RDLMError/badRequest`` when the server
    ///   refused the request, a 404 (the resource name not accepted) included, other
    ///   `RDLMError`s, or `CancellationError`.
    public func acquire(
        _ resource: String, lifetime: Duration? = nil, wait: Duration? = nil,
        mode: LockMode = .exclusive, title: String? = nil
    ) async throws -> Lock {
        try Self.validate(resource: resource)
        let lifetime = lifetime ?? configuration.defaultLifetime
        let wait = wait ?? configuration.defaultWait
        let title = title ?? configuration.defaultTitle
        let body = RequestBody.acquire(title: title, lifetime: lifetime, wait: wait, mode: mode)
        let requestID = RequestID.header + ": " + RequestID.random()
        let deadline = ContinuousClock.now + wait + configuration.requestTimeout
        var first: String?
        var pause = Duration.milliseconds(100)
        var answer: Answer
        while true {
            answer = try await firstAnswer(path: "/locks/" + resource, first: first) { url in
                var request = makeRequest(.post, url, admin: false, body: body, timeout: deadline - .now)
                request.ownHeaders = [requestID]
                return request
            }
            guard Self.isRequestInProgress(answer.response), ContinuousClock.now + pause < deadline else { break }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
            first = answer.base
        }
        let (response, request) = (answer.response, answer.request)
        let receivedAt = ContinuousClock.now
        try check(response, request, .acquire)
        guard let location = response.header("location"), let url = Self.lockURL(location: location, base: answer.base) else {
            throw RDLMError.unexpectedResponse("201 Created without a Location header", status: 201, request: request.summary)
        }
        var token = response.header("rdlm-fencing-token").flatMap { UInt64($0) }
        if token == nil, response.header("content-type")?.contains("json") == true {
            token = (try? JSONDecoder().decode(LockDocument.self, from: Data(response.body)))?.fencingToken
        }
        return Lock(
            url: url, resource: resource, uid: Self.lastPathComponent(of: location), fencingToken: token,
            expiry: receivedAt + lifetime, lifetime: lifetime, mode: mode, title: title)
    }

    /// Releases a lock (or withdraws a waiting request). A 204 or 200 answer is success.
    ///
    /// Release is clean-up, so task cancellation does not interrupt it: the request goes
    /// out and is answered within the request timeout even from a cancelled task.
    /// - Parameter lock: the lock to release.
    /// - Throws: ``RDLMError/notFound`` when the lock was already gone (released, expired
    ///   or deleted), or another `RDLMError`.
    public func release(_ lock: Lock) async throws {
        try await release(at: lock.url)
    }

    /// Releases the lock at `url` (or withdraws a waiting request): for a lock this process
    /// did not acquire, such as one whose URL another process printed. Not interrupted by
    /// task cancellation, like ``release(_:)``.
    ///
    /// When the URL's server gives no answer, the other servers are asked in turn. If a
    /// server may have received the release before its answer was lost, a 404 from the
    /// next is success: the lock is gone either way.
    /// - Parameter url: a lock's URL, as in ``Lock/url``.
    /// - Throws: ``RDLMError/notFound`` when the lock is gone, or another `RDLMError`.
    public func release(at url: URL) async throws {
        let answer = try await firstAnswer(about: url, cancellable: false) { url in
            makeRequest(.delete, url, admin: false)
        }
        if answer.earlierAnswerLost, answer.response.status == 404 { return }
        try check(answer.response, answer.request, .release)
    }

    /// Renews a held lock's lease: it now expires `lifetime` from now. A lock that is gone
    /// is never re-acquired.
    /// - Parameters:
    ///   - lock: the lock to renew.
    ///   - lifetime: the new lease; the lock's own lifetime if nil.
    /// - Returns: the lock with its new ``Lock/expiry``.
    /// - Throws: ``RDLMError/notFound`` when the lock is gone, or another `RDLMError`.
    public func refresh(_ lock: Lock, lifetime: Duration? = nil) async throws -> Lock {
        try await refresh(lock, lifetime: lifetime, timeout: configuration.requestTimeout)
    }

    func refresh(_ lock: Lock, lifetime: Duration?, timeout: Duration) async throws -> Lock {
        let lifetime = lifetime ?? lock.lifetime
        let sentAt = ContinuousClock.now
        let answer = try await firstAnswer(about: lock.url) { url in
            makeRequest(.patch, url, admin: false, body: RequestBody.refresh(lifetime: lifetime), timeout: timeout)
        }
        try check(answer.response, answer.request, .refresh)
        // Measured from the request, not the answer: the server restarted the lease in
        // between, so this errs early. The lock's URL becomes the server that answered, so
        // that the next refresh goes straight there.
        return lock.renewed(lifetime: lifetime, expiry: sentAt + lifetime, url: URL(string: answer.request.url) ?? lock.url)
    }

    /// Renews the lease of the lock at `url` and returns the server's description of it:
    /// for a lock this process did not acquire. A lock that is gone is never re-acquired.
    /// - Parameters:
    ///   - url: a lock's URL, as in ``Lock/url``.
    ///   - lifetime: the new lease; the lease the lock already has if nil.
    /// - Throws: ``RDLMError/notFound`` when the lock is gone, or another `RDLMError`
    ///   (HTTP 409 when it is still waiting rather than held).
    public func refresh(at url: URL, lifetime: Duration? = nil) async throws -> LockDetails {
        let answer = try await firstAnswer(about: url) { url in
            makeRequest(.patch, url, admin: false, body: lifetime.map(RequestBody.refresh(lifetime:)))
        }
        return try details(of: answer, kind: .refresh)
    }

    /// Describes the lock at `url`: held or waiting, since when, until when.
    /// - Parameter url: a lock's URL, as in ``Lock/url``.
    /// - Throws: ``RDLMError/notFound`` when there is no such lock, or another `RDLMError`.
    public func lock(at url: URL) async throws -> LockDetails {
        let answer = try await firstAnswer(about: url) { url in makeRequest(.get, url, admin: false) }
        return try details(of: answer, kind: .show)
    }

    /// The lock document a server answered for a lock URL; its links complete to that
    /// server.
    private func details(of answer: Answer, kind: StatusMeaning.Request) throws -> LockDetails {
        let (response, request) = (answer.response, answer.request)
        try check(response, request, kind)
        let document = try ResponseBody.decode(LockDocument.self, from: response, request: request)
        let url = URL(string: request.url)
        let components = url?.pathComponents ?? []
        let resource = components.count >= 2 ? components[components.count - 2] : ""
        guard let details = document.details(resource: resource, baseURL: answer.base, fallbackURL: url) else {
            throw RDLMError.unexpectedResponse("the lock document has no URL", status: response.status, request: request.summary)
        }
        return details
    }

    /// Queues the release of `lock` and returns at once, without an answer: for `deinit`s,
    /// which cannot wait.
    func releaseWithoutWaiting(_ lock: Lock) {
        transport.send(makeRequest(.delete, lock.url.absoluteString, admin: false))
    }

    // MARK: Requests

    func makeRequest(
        _ method: HTTPRequest.Method, _ url: String, admin: Bool, body: [UInt8]? = nil, timeout: Duration? = nil
    ) -> HTTPRequest {
        Self.makeRequest(method, url, admin: admin, body: body, timeout: timeout, configuration: configuration)
    }

    static func makeRequest(
        _ method: HTTPRequest.Method, _ url: String, admin: Bool, body: [UInt8]? = nil, timeout: Duration? = nil,
        configuration: Configuration
    ) -> HTTPRequest {
        var headers = ["Accept: application/json"]
        if body != nil { headers.append("Content-Type: application/json") }
        if admin, let credentials = configuration.adminCredentials { headers.append(credentials.headerLine) }
        return HTTPRequest(
            method: method, url: url, headers: headers, body: body,
            timeout: timeout ?? configuration.requestTimeout, connectTimeout: configuration.connectTimeout,
            tls: TLSFiles(configuration))
    }

    /// The text after the last `/` of a lock URL: its uid. On the text, since `URL`'s
    /// `lastPathComponent` costs a path parse for every grant.
    static func lastPathComponent(of location: String) -> String {
        let bytes = location.utf8
        let end = bytes.last == UInt8(ascii: "/") ? bytes.index(before: bytes.endIndex) : bytes.endIndex
        let start = bytes[..<end].lastIndex(of: UInt8(ascii: "/")).map(bytes.index(after:)) ?? bytes.startIndex
        return String(Substring(bytes[start..<end]))
    }

    /// The lock URL of a grant's `Location`: absolute, or a path below the base URL.
    static func lockURL(location: String, base: String) -> URL? {
        URL(string: location.hasPrefix("/") ? base + location : location)
    }

    /// Throws the error an answer means, unless it is a success for `kind`.
    func check(_ response: HTTPResponse, _ request: HTTPRequest, _ kind: StatusMeaning.Request) throws(RDLMError) {
        guard StatusMeaning(status: response.status, of: kind) != .success else { return }
        throw .status(response.status, message: ResponseBody.errorMessage(of: response), request: request.summary, kind: kind)
    }

    /// Resource names are `[a-zA-Z0-9]+` on the wire: refuse others here, with a clearer
    /// message than the server's 404.
    static func validate(resource: String) throws(RDLMError) {
        guard ResourceName.isValid(resource) else { throw .badRequest(ResourceName.invalidMessage(resource)) }
    }
}
