import Synchronization

/// The one continuation of one request, resumed exactly once by construction: whoever
/// takes it out of the mutex (the curl thread with the answer, or a cancellation handler)
/// resumes it, and every later attempt finds nothing to resume.
final class PendingResponse: Sendable {
    private enum State {
        /// Created; the continuation is not installed yet.
        case idle
        /// The request is in flight and a task awaits its answer.
        case waiting(CheckedContinuation<HTTPResponse, any Error>)
        /// Cancelled before the continuation was installed: install resumes at once.
        case cancelledEarly
        /// Resumed; nothing more happens.
        case finished
    }

    private let state = Mutex(State.idle)

    /// Installs the awaiting task's continuation. Returns false, having resumed it with
    /// `CancellationError`, when cancellation came first; then the request must not start.
    func install(_ continuation: CheckedContinuation<HTTPResponse, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            switch state {
            case .idle:
                state = .waiting(continuation)
                return false
            case .cancelledEarly:
                state = .finished
                return true
            case .waiting, .finished:
                preconditionFailure("a PendingResponse takes one continuation")
            }
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// True once the answer (or an error) was delivered, so a request cancelled before the
    /// curl thread picked it up is never started.
    var isFinished: Bool {
        state.withLock { state in
            if case .finished = state { return true }
            if case .cancelledEarly = state { return true }
            return false
        }
    }

    /// Delivers the outcome, unless something was delivered already.
    /// - Returns: whether this outcome reached the awaiting task. False when cancellation
    ///   (or another outcome) came first: the caller then owns whatever the answer holds,
    ///   such as a granted lock that must be released.
    @discardableResult
    func resume(with result: Result<HTTPResponse, any Error>) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<HTTPResponse, any Error>? in
            switch state {
            case .waiting(let continuation):
                state = .finished
                return continuation
            case .idle:
                // Only cancellation can come before the continuation is installed.
                state = .cancelledEarly
                return nil
            case .cancelledEarly, .finished:
                return nil
            }
        }
        guard let continuation else { return false }
        continuation.resume(with: result)
        return true
    }
}
