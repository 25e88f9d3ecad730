import Logging
import NIOCore
import RDLMCore
import Synchronization

/// The lock table in this process's memory, behind one mutex.
///
/// Every operation takes the mutex, lets the table decide, collects what the decision means
/// for parked requests, and completes their promises after letting go of the mutex. One
/// event-loop timer, always set for the table's earliest deadline, makes expiries and wait
/// timeouts fire on time rather than on the next request or a periodic sweep.
public final class InMemoryLockService: LockService {
    private struct State {
        var table: LockTable
        /// Acquires waiting for an answer, by lock id. Whoever removes a promise from here
        /// completes it, so each is completed exactly once.
        var parked: [LockID: EventLoopPromise<AcquireOutcome>] = [:]
        var timer: Scheduled<Void>?
        var timerDeadline: ContinuousClock.Instant?
        var isShuttingDown = false
    }

    private let state: Mutex<State>
    private let timerLoop: any EventLoop
    private let logger: Logger

    /// - Parameters:
    ///   - timerLoop: the event loop that runs the deadline timer.
    ///   - lastFencingToken: tokens start after this one (see `FencingSeed`).
    public init(limits: LockTableLimits, lastFencingToken: FencingToken, timerLoop: any EventLoop, logger: Logger) {
        self.state = Mutex(State(table: LockTable(limits: limits, lastFencingToken: lastFencingToken)))
        self.timerLoop = timerLoop
        self.logger = logger
    }

    /// Locks held or waiting, for tests and metrics.
    public var lockCount: Int { state.withLock { $0.table.lockCount } }
    /// Resources with locks, for tests and metrics.
    public var resourceCount: Int { state.withLock { $0.table.resourceCount } }

    public func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome> {
        let (outcome, future, answers) = state.withLock { state -> (AcquireOutcome?, EventLoopFuture<AcquireOutcome>?, [Answer]) in
            guard !state.isShuttingDown else { return (.shuttingDown, nil, []) }
            let result = state.table.acquire(request, on: resource, id: id, now: .now)
            let outcome: AcquireOutcome?
            var future: EventLoopFuture<AcquireOutcome>?
            switch result {
            case .granted:
                outcome = state.table.lock(id, on: resource).map { .granted($0) } ?? .waitTimedOut
            case .queued:
                let promise = eventLoop.makePromise(of: AcquireOutcome.self)
                state.parked[id] = promise
                future = promise.futureResult
                outcome = nil
            case .refused(.wouldWait):
                outcome = .waitTimedOut
            case .refused(let refusal):
                outcome = .refused(refusal)
            }
            let answers = self.settle(&state)
            return (outcome, future, answers)
        }
        deliver(answers)
        if let outcome {
            logger.debug("acquire", metadata: ["resource": "\(resource)", "lock": "\(id)", "outcome": "\(outcome.logDescription)"])
            return eventLoop.makeSucceededFuture(outcome)
        }
        logger.debug("acquire queued", metadata: ["resource": "\(resource)", "lock": "\(id)"])
        return future!
    }

    public func abandon(_ id: LockID) {
        let answers = state.withLock { state -> [Answer] in
            guard let promise = state.parked.removeValue(forKey: id) else { return [] }
            state.table.abandon(id, now: .now)
            return [Answer(promise: promise, outcome: .abandoned)] + self.settle(&state)
        }
        if !answers.isEmpty { logger.debug("waiter left", metadata: ["lock": "\(id)"]) }
        deliver(answers)
    }

    public func release(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let released = mutate { $0.release(id, on: resource, now: .now) }
        if released { logger.debug("released", metadata: ["resource": "\(resource)", "lock": "\(id)"]) }
        return eventLoop.makeSucceededFuture(released)
    }

    public func refresh(_ id: LockID, on resource: String, lifetime: Duration?, eventLoop: any EventLoop) -> EventLoopFuture<LockTable.RefreshResult> {
        let result = mutate { $0.refresh(id, on: resource, lifetime: lifetime, now: .now) }
        if case .refreshed = result { logger.debug("refreshed", metadata: ["resource": "\(resource)", "lock": "\(id)"]) }
        return eventLoop.makeSucceededFuture(result)
    }

    public func lock(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<LockInfo?> {
        eventLoop.makeSucceededFuture(mutate { table in
            table.advance(to: .now)
            return table.lock(id, on: resource)
        })
    }

    public func resourceNames(eventLoop: any EventLoop) -> EventLoopFuture<[String]> {
        eventLoop.makeSucceededFuture(mutate { table in
            table.advance(to: .now)
            return table.resourceNames
        })
    }

    public func locks(on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<[LockInfo]> {
        eventLoop.makeSucceededFuture(mutate { table in
            table.advance(to: .now)
            return table.locks(on: resource)
        })
    }

    public func deleteResource(_ resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let deleted = mutate { $0.deleteResource(resource, now: .now) }
        if deleted { logger.debug("resource deleted by admin", metadata: ["resource": "\(resource)"]) }
        return eventLoop.makeSucceededFuture(deleted)
    }

    public func deleteAll(eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        mutate { $0.deleteAll(now: .now) }
        logger.debug("all resources deleted by admin")
        return eventLoop.makeSucceededVoidFuture()
    }

    public func shutdown() {
        let answers = state.withLock { state -> [Answer] in
            state.isShuttingDown = true
            state.timer?.cancel()
            state.timer = nil
            state.timerDeadline = nil
            defer { state.parked = [:] }
            return state.parked.values.map { Answer(promise: $0, outcome: .shuttingDown) }
        }
        logger.debug("answering parked waiters with 503", metadata: ["count": "\(answers.count)"])
        deliver(answers)
    }

    // MARK: Internals

    /// A parked request's answer, completed once the mutex is released.
    private struct Answer {
        var promise: EventLoopPromise<AcquireOutcome>
        var outcome: AcquireOutcome
    }

    /// Runs a table operation under the mutex and answers whoever it affected.
    private func mutate<Result: Sendable>(_ body: (inout LockTable) -> Result) -> Result {
        let (result, answers) = state.withLock { state -> (Result, [Answer]) in
            let result = body(&state.table)
            return (result, self.settle(&state))
        }
        deliver(answers)
        return result
    }

    /// Turns the table's events into answers for parked requests, logs them, and makes
    /// sure the timer is set no later than the next deadline. Called under the mutex.
    private func settle(_ state: inout State) -> [Answer] {
        let events = state.table.takeEvents()
        var answers: [Answer] = []
        for event in events {
            logger.debug("\(event.logDescription)")
            switch event {
            case .granted(let id, let resource, _):
                if let promise = state.parked.removeValue(forKey: id), let lock = state.table.lock(id, on: resource) {
                    answers.append(Answer(promise: promise, outcome: .granted(lock)))
                }
            case .waitTimedOut(let id, _):
                if let promise = state.parked.removeValue(forKey: id) {
                    answers.append(Answer(promise: promise, outcome: .waitTimedOut))
                }
            case .waiterDeleted(let id, _):
                if let promise = state.parked.removeValue(forKey: id) {
                    answers.append(Answer(promise: promise, outcome: .deleted))
                }
            case .expired, .holderDeleted:
                break
            }
        }
        scheduleTimer(&state)
        return answers
    }

    private func deliver(_ answers: [Answer]) {
        for answer in answers {
            answer.promise.succeed(answer.outcome)
        }
    }

    /// Keeps one timer armed for the earliest deadline. A timer set for a deadline that went
    /// away is left to fire: it finds nothing due and re-arms for the next one, which is
    /// cheaper than cancelling and re-arming on every release.
    private func scheduleTimer(_ state: inout State) {
        guard !state.isShuttingDown, let next = state.table.nextDeadline else { return }
        if let armed = state.timerDeadline, armed <= next { return }
        state.timer?.cancel()
        state.timerDeadline = next
        let delay = max(0, (next - .now).nanoseconds)
        state.timer = timerLoop.scheduleTask(in: .nanoseconds(delay)) { [weak self] in
            self?.timerFired(for: next)
        }
    }

    private func timerFired(for deadline: ContinuousClock.Instant) {
        let answers = state.withLock { state -> [Answer] in
            if state.timerDeadline == deadline {
                state.timerDeadline = nil
                state.timer = nil
            }
            state.table.advance(to: .now)
            return self.settle(&state)
        }
        deliver(answers)
    }
}

extension AcquireOutcome {
    var logDescription: String {
        switch self {
        case .granted(let lock): return "granted, token \(lock.fencingToken ?? 0)"
        case .waitTimedOut: return "wait timed out"
        case .deleted: return "deleted"
        case .refused(let refusal): return "refused (\(refusal))"
        case .shuttingDown: return "shutting down"
        case .abandoned: return "abandoned"
        }
    }
}

extension LockEvent {
    var logDescription: String {
        switch self {
        case .granted(let id, let resource, let token): return "granted \(resource)/\(id) to a waiter, token \(token)"
        case .waitTimedOut(let id, let resource): return "wait timed out for \(resource)/\(id)"
        case .waiterDeleted(let id, let resource): return "waiter \(resource)/\(id) deleted"
        case .expired(let id, let resource): return "lock \(resource)/\(id) expired"
        case .holderDeleted(let id, let resource): return "holder \(resource)/\(id) deleted by admin"
        }
    }
}
