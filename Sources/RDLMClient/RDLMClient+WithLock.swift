extension RDLMClient {
    /// Acquires a lock on `resource`, runs `body` while holding it, and releases it.
    ///
    /// - The lock is released when `body` returns, throws, or is cancelled (the release is
    ///   sent even from a cancelled task).
    /// - With `keepAlive` (the default), the lease is refreshed in the background every
    ///   third of its lifetime while `body` runs, so `body` may run longer than `lifetime`;
    ///   if the client dies, the server frees the lock within one lifetime.
    /// - If a refresh finds the lock gone (an admin deleted it, or it expired because the
    ///   server could not be reached in time), `body`'s task is cancelled and this throws
    ///   ``RDLMError/lockLost``, whatever `body` returned. The lock is never re-acquired
    ///   behind the caller's back.
    ///
    /// `body` runs in a child task, so that losing the lock can cancel it without
    /// cancelling the caller: hence `@Sendable`.
    ///
    /// - Parameters:
    ///   - resource: the resource's name, ASCII letters and digits.
    ///   - lifetime: the lease; the configured default if nil.
    ///   - wait: how long to wait for the lock; the configured default if nil.
    ///   - mode: exclusive (the default) or shared.
    ///   - title: what the server shows for this lock; the configured default if nil.
    ///   - keepAlive: refresh the lease while `body` runs.
    ///   - body: the work to do under the lock; it gets the granted lock (for its fencing
    ///     token).
    /// - Returns: what `body` returns.
    /// - Throws: what ``acquire(_:lifetime:wait:mode:title:)`` throws, what `body` throws,
    ///   ``RDLMError/lockLost``, or the release's error after a successful `body` (a
    ///   release that finds the lock gone is reported as ``RDLMError/lockLost``, since the
    ///   lease ran out before the work was done).
    public func withLock<Result: Sendable>(
        _ resource: String, lifetime: Duration? = nil, wait: Duration? = nil,
        mode: LockMode = .exclusive, title: String? = nil, keepAlive: Bool = true,
        _ body: @Sendable (Lock) async throws -> Result
    ) async throws -> Result {
        let lock = try await acquire(resource, lifetime: lifetime, wait: wait, mode: mode, title: title)
        let result: Result
        do {
            result = try await withoutActuallyEscaping(body) { body in
                try await run(body, holding: lock, keepAlive: keepAlive)
            }
        } catch let lost as LostLock {
            // Gone already: nothing to release.
            throw lost.error
        } catch {
            try? await release(lock)
            throw error
        }
        do {
            try await release(lock)
        } catch let error as RDLMError where error == .notFound {
            throw RDLMError.lockLost("the lock on '\(resource)' was gone when released: its lease ran out or an admin deleted it before the work was done", request: "DELETE \(lock.url.absoluteString)")
        }
        return result
    }

    /// Our own lock was lost (as opposed to a `lockLost` thrown by the body, say from a
    /// nested `withLock`, after which this lock must still be released).
    private struct LostLock: Error {
        var error: RDLMError
    }

    private enum Step<Value: Sendable>: Sendable {
        case bodyReturned(Value)
        case keepAliveStopped
        case lockLost(RDLMError)
    }

    /// Runs `body` in a child task beside the keep-alive, until `body` ends or the lock is
    /// lost.
    private func run<Result: Sendable>(
        _ body: @escaping @Sendable (Lock) async throws -> Result, holding lock: Lock, keepAlive: Bool
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Step<Result>.self) { group in
            group.addTask { .bodyReturned(try await body(lock)) }
            if keepAlive {
                group.addTask { await self.keepAlive(lock) }
            }
            // A throwing body ends the group: the keep-alive is cancelled and awaited.
            while let step = try await group.next() {
                switch step {
                case .bodyReturned(let value):
                    group.cancelAll()
                    return value
                case .keepAliveStopped:
                    continue
                case .lockLost(let error):
                    group.cancelAll()
                    // Let the cancelled body finish; its outcome no longer counts.
                    while true {
                        do {
                            if try await group.next() == nil { break }
                        } catch {}
                    }
                    throw LostLock(error: error)
                }
            }
            preconditionFailure("the body's task ended without a result")
        }
    }

    /// Refreshes `lock` every third of its lifetime until cancelled. Returns `lockLost`
    /// when the server says the lock is gone, or when failed refreshes let its lease run
    /// out.
    private func keepAlive<Value: Sendable>(_ lock: Lock) async -> Step<Value> {
        let interval = lock.lifetime / 3
        var lock = lock  // its URL follows the server that last answered a refresh
        var expiry = lock.expiry
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return .keepAliveStopped
            }
            while true {
                let remaining = expiry - .now
                guard remaining > .zero else {
                    return .lockLost(.lockLost("could not refresh the lock on '\(lock.resource)' before its lease ran out", request: "PATCH \(lock.url.absoluteString)"))
                }
                do {
                    lock = try await refresh(lock, lifetime: lock.lifetime, timeout: min(remaining, configuration.requestTimeout))
                    expiry = lock.expiry
                    break
                } catch let error as RDLMError where error == .notFound {
                    return .lockLost(.lockLost("the lock on '\(lock.resource)' is gone: an admin deleted it or its lease ran out", request: "PATCH \(lock.url.absoluteString)"))
                } catch {
                    if Task.isCancelled { return .keepAliveStopped }
                    // Transient (a transport error, a busy server): try again shortly,
                    // while the lease lasts.
                    do {
                        try await Task.sleep(for: min(interval / 4, max(.zero, expiry - .now)))
                    } catch {
                        return .keepAliveStopped
                    }
                }
            }
        }
    }
}
