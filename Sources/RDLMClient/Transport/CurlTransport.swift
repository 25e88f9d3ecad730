import CCurl
import Foundation
import Synchronization

/// A request handed to the curl thread.
struct Transfer: Sendable {
    let id: UInt64
    let request: HTTPRequest
    /// Who awaits the answer; nil for a request sent without waiting (a release from a
    /// `deinit`).
    let pending: PendingResponse?
    /// Where the body goes as it arrives, for a streamed answer; nil for a whole one.
    var stream: StreamReceiver? = nil
}

/// All HTTP traffic of one client: one curl multi handle, created, driven and freed by one
/// thread of its own, the only thread that calls libcurl. That thread sleeps in `poll` on
/// the sockets curl asked to watch until one is ready, curl's timer is due, or another
/// thread hands it work through the inbox and writes to the wake-up pipe; it then tells
/// curl exactly what happened with `curl_multi_socket_action` (see `CurlSocketWatch`).
///
/// Each request is one easy handle whose completion resumes exactly one continuation.
/// Connections stay open between requests in the multi handle's connection cache, so a
/// steady stream of requests reuses them. Any number of requests can be in flight, parked
/// waiters included, without a thread per request.
///
/// The thread is also a `TaskExecutor` (see `CurlTransport+TaskExecutor.swift`).
final class CurlTransport: Sendable {
    enum Command: Sendable {
        case start(Transfer)
        case cancel(UInt64)
        /// A task job to run on the curl thread.
        case run(UnownedJob)
    }

    struct Inbox {
        var commands: [Command] = []
        /// The curl thread is about to sleep, or sleeping: the next command must wake it.
        var needsWakeup = false
        var isStopping = false
        var isStopped = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// How long a stopping transport keeps going for requests nobody awaits (releases sent
    /// from a `deinit`) before it abandons them.
    static let stopGracePeriod = Duration.seconds(1)
    /// The curl thread's name, as debuggers and `top -H` show it (at most 15 bytes on Linux).
    static let threadName = "RDLMClient curl"

    let inbox = Mutex(Inbox())
    private let lastID = Atomic<UInt64>(0)
    /// The `DELETE` that releases the lock of a grant's `Location` (answered to `acquire`);
    /// nil for a `Location` that is no lock URL.
    let releaseRequest: @Sendable (_ location: String, _ acquire: HTTPRequest) -> HTTPRequest?
    /// The wake-up pipe. Other threads write its write end only while holding the inbox
    /// mutex and only before stopping began; the curl thread closes both ends after it saw
    /// the stop, so a write never meets a closed (or reused) descriptor.
    let wakeupRead: Int32
    let wakeupWrite: Int32

    /// Starts the curl thread.
    /// - Parameters:
    ///   - maximumConnections: how many connections the cache keeps open
    ///     (`CURLMOPT_MAXCONNECTS`); connections per host are not limited.
    ///   - releaseRequest: the release of a grant that did not reach its caller.
    init(maximumConnections: Int, releaseRequest: @escaping @Sendable (_ location: String, _ acquire: HTTPRequest) -> HTTPRequest?) throws(RDLMError) {
        self.releaseRequest = releaseRequest
        guard CurlLibrary.isInitialized else {
            throw .transport(curlCode: Int(CURLE_FAILED_INIT.rawValue), message: "curl_global_init failed", request: "starting the client")
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            let message = String(cString: strerror(errno))
            throw .transport(curlCode: Int(CURLE_FAILED_INIT.rawValue), message: "cannot create the wake-up pipe: \(message)", request: "starting the client")
        }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wakeupRead = ends[0]
        wakeupWrite = ends[1]
        let thread = Thread { [self] in run(maximumConnections: maximumConnections) }
        thread.start()
    }

    /// Sends `request` and suspends until its answer arrives. Cancelling the task removes
    /// the request's easy handle (closing its connection, so the server drops a parked
    /// waiter) and throws `CancellationError`.
    ///
    /// - Parameter cancellable: false for clean-up requests (releases) that must go out
    ///   even from a cancelled task.
    ///
    /// A grant (201 with a `Location`) that cannot be delivered, because the task was
    /// cancelled first, the transfer broke after the headers, or the client is shutting
    /// down, is released at once without waiting, like ``OwnedLock``'s `deinit` does.
    ///
    /// - Parameter stream: for a streamed answer (`GET /events`): a success's body goes
    ///   there as it arrives instead of into the answer, which then comes at the end of the
    ///   stream; the request has no overall time limit, only the stream's idle time.
    func execute(_ request: HTTPRequest, cancellable: Bool = true, stream: StreamReceiver? = nil) async throws -> HTTPResponse {
        if cancellable { try Task.checkCancellation() }
        let pending = PendingResponse()
        let id = makeID()
        let operation = {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                guard pending.install(continuation) else { return }
                if !self.enqueue(.start(Transfer(id: id, request: request, pending: pending, stream: stream))) {
                    pending.resume(with: .failure(RDLMError.clientShutdown(request: request.summary)))
                }
            }
        }
        guard cancellable else { return try await operation() }
        return try await withTaskCancellationHandler(operation: operation) {
            // Answer the task at once; the curl thread then drops the handle (or never
            // starts it: it skips transfers whose answer was delivered already).
            pending.resume(with: .failure(CancellationError()))
            self.enqueue(.cancel(id))
        }
    }

    /// Sends `request` without waiting for the answer. Returns false when the transport is
    /// stopping and the request was not queued.
    @discardableResult
    func send(_ request: HTTPRequest) -> Bool {
        enqueue(.start(Transfer(id: makeID(), request: request, pending: nil)))
    }

    /// A transfer id unique within this transport.
    func makeID() -> UInt64 {
        lastID.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Stops the curl thread: awaited requests fail with `clientShutdown`, unawaited ones get
    /// up to `stopGracePeriod` to finish. Returns when the thread has ended.
    func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = inbox.withLock { inbox -> Bool in
                if inbox.isStopped { return true }
                inbox.stopWaiters.append(continuation)
                beginStopping(&inbox)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    /// Tells the curl thread to stop, without waiting for it.
    func stop() {
        inbox.withLock { beginStopping(&$0) }
    }

    private func beginStopping(_ inbox: inout Inbox) {
        guard !inbox.isStopping else { return }
        inbox.isStopping = true
        wakeUp()
    }

    /// Makes the curl thread's `poll` return. A full pipe already holds a wake-up.
    private func wakeUp() {
        var byte: UInt8 = 1
        _ = write(wakeupWrite, &byte, 1)
    }

    /// Queues a command for the curl thread and wakes it if it may be asleep. The wake-up is
    /// written under the mutex, and never once stopping began (see `wakeupWrite`).
    @discardableResult
    func enqueue(_ command: Command) -> Bool {
        inbox.withLock { inbox in
            guard !inbox.isStopping else { return false }
            inbox.commands.append(command)
            if inbox.needsWakeup {
                inbox.needsWakeup = false
                wakeUp()
            }
            return true
        }
    }
}

/// libcurl's process-wide initialisation, done once before the first multi handle.
enum CurlLibrary {
    static let isInitialized: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
}
