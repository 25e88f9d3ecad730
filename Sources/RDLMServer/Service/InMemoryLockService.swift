import Logging
import NIOCore
import RDLMCore
import Synchronization

/// The lock table in this process's memory, behind one mutex, optionally journaled.
///
/// Every operation takes the mutex, lets the table decide, collects what the decision means
/// for parked requests, and completes their promises after letting go of the mutex. One
/// event-loop timer, always set for the table's earliest deadline, makes expiries and wait
/// timeouts fire on time rather than on the next request or a periodic sweep.
///
/// With a journal, the changes an operation made are queued to it under the same mutex (so
/// the journal's order is the table's), and every answer that operation produced, to its
/// caller or to parked waiters, goes out only once those changes, and all before them,
/// are on disk.
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
    private let journal: Journal?

    /// - Parameters:
    ///   - timerLoop: the event loop that runs the deadline timer.
    ///   - lastFencingToken: tokens start after this one (see `FencingSeed`).
    ///   - holders: locks to start with, restored from `journal`'s directory.
    init(limits: LockTableLimits, lastFencingToken: FencingToken, holders: [LockInfo] = [], journal: Journal?, timerLoop: any EventLoop, logger: Logger) {
        let table = LockTable(limits: limits, lastFencingToken: lastFencingToken, recordsChanges: journal != nil, holders: holders)
        self.state = Mutex(State(table: table))
        self.timerLoop = timerLoop
        self.logger = logger
        self.journal = journal
        journal?.setSnapshotSource { [weak self] in
            self?.snapshot() ?? ([], lastFencingToken)
        }
        state.withLock { scheduleTimer(&$0) }
    }

    /// An in-memory service, as the original RDLM was.
    public convenience init(limits: LockTableLimits, lastFencingToken: FencingToken, timerLoop: any EventLoop, logger: Logger) {
        self.init(limits: limits, lastFencingToken: lastFencingToken, journal: nil, timerLoop: timerLoop, logger: logger)
    }

    /// Locks held or waiting, for tests and metrics.
    public var lockCount: Int { state.withLock { $0.table.lockCount } }
    /// Resources with locks, for tests and metrics.
    public var resourceCount: Int { state.withLock { $0.table.resourceCount } }

    public func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome> {
        var parked: EventLoopFuture<AcquireOutcome>?
        // For a queued request `perform`'s own future is not used (its value is a
        // placeholder): the answer comes through the parked promise.
        let immediate = perform(on: eventLoop) { [logger] state -> AcquireOutcome in
            guard !state.isShuttingDown else { return .shuttingDown }
            let outcome: AcquireOutcome
            switch state.table.acquire(request, on: resource, id: id, now: .now) {
            case .granted(let lock):
                outcome = .granted(lock)
            case .queued:
                let promise = eventLoop.makePromise(of: AcquireOutcome.self)
                state.parked[id] = promise
                parked = promise.futureResult
                logger.debug("acquire queued", metadata: ["resource": "\(resource)", "lock": "\(id)"])
                return .abandoned
            case .refused(.wouldWait):
                outcome = .waitTimedOut
            case .refused(let refusal):
                outcome = .refused(refusal)
            }
            logger.debug("acquire", metadata: ["resource": "\(resource)", "lock": "\(id)", "outcome": "\(outcome.logDescription)"])
            return outcome
        }
        return parked ?? immediate
    }

    public func abandon(_ id: LockID) {
        let answerNow = state.withLock { state -> (@Sendable () -> Void)? in
            guard let promise = state.parked.removeValue(forKey: id) else { return nil }
            state.table.abandon(id, now: .now)
            logger.debug("waiter left", metadata: ["lock": "\(id)"])
            // Its leaving may let compatible waiters behind it in: those grants are durable
            // before they are answered, like any other.
            return self.commit(&state, answers: [Answer(promise: promise, outcome: .abandoned)] + self.settle(&state))
        }
        answerNow?()
    }

    public func release(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        perform(on: eventLoop) { [logger] state in
            let released = state.table.release(id, on: resource, now: .now)
            if released { logger.debug("released", metadata: ["resource": "\(resource)", "lock": "\(id)"]) }
            return released
        }
    }

    public func refresh(_ id: LockID, on resource: String, lifetime: Duration?, eventLoop: any EventLoop) -> EventLoopFuture<LockTable.RefreshResult> {
        perform(on: eventLoop) { [logger] state in
            let result = state.table.refresh(id, on: resource, lifetime: lifetime, now: .now)
            if case .refreshed = result { logger.debug("refreshed", metadata: ["resource": "\(resource)", "lock": "\(id)"]) }
            return result
        }
    }

    public func lock(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<LockInfo?> {
        perform(on: eventLoop) { state in
            state.table.advance(to: .now)
            return state.table.lock(id, on: resource)
        }
    }

    public func resourceNames(eventLoop: any EventLoop) -> EventLoopFuture<[String]> {
        perform(on: eventLoop) { state in
            state.table.advance(to: .now)
            return state.table.resourceNames
        }
    }

    public func locks(on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<[LockInfo]> {
        perform(on: eventLoop) { state in
            state.table.advance(to: .now)
            return state.table.locks(on: resource)
        }
    }

    public func deleteResource(_ resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        perform(on: eventLoop) { [logger] state in
            let deleted = state.table.deleteResource(resource, now: .now)
            if deleted { logger.debug("resource deleted by admin", metadata: ["resource": "\(resource)"]) }
            return deleted
        }
    }

    public func deleteAll(eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        perform(on: eventLoop) { [logger] state in
            state.table.deleteAll(now: .now)
            logger.debug("all resources deleted by admin")
        }
    }

    /// Gives back the room of collections that grew for locks now gone (see
    /// `LockTable.compact()`); called by the memory reclaimer after a large drop.
    func compact() {
        state.withLock { state in
            state.table.compact()
            state.parked.shrinkIfSparse()
        }
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
    private struct Answer: Sendable {
        var promise: EventLoopPromise<AcquireOutcome>
        var outcome: AcquireOutcome
    }

    /// Runs `body` under the mutex, then answers its caller and whoever else it affected,
    /// once its changes are durable (at once without a journal).
    private func perform<Result: Sendable>(on eventLoop: any EventLoop, _ body: (inout State) -> Result) -> EventLoopFuture<Result> {
        guard journal != nil else {
            let (result, answers) = state.withLock { state in
                let result = body(&state)
                return (result, self.settle(&state))
            }
            deliver(answers)
            return eventLoop.makeSucceededFuture(result)
        }
        let promise = eventLoop.makePromise(of: Result.self)
        let answerNow = state.withLock { state -> (@Sendable () -> Void)? in
            let result = body(&state)
            return self.commit(&state, answers: self.settle(&state)) { error in
                if let error { promise.fail(error) } else { promise.succeed(result) }
            }
        }
        answerNow?()
        return promise.futureResult
    }

    /// Queues the table's changes to the journal with the answers that depend on them.
    /// Called under the mutex. Returns the answering to run at once, after the mutex is
    /// let go, when nothing needs to reach the disk first.
    private func commit(_ state: inout State, answers: [Answer], also: @escaping @Sendable ((any Error)?) -> Void = { _ in }) -> (@Sendable () -> Void)? {
        let completion: @Sendable ((any Error)?) -> Void = { [self] error in
            also(error)
            if let error {
                for answer in answers { answer.promise.fail(error) }
            } else {
                deliver(answers)
            }
        }
        guard let journal else { return { completion(nil) } }
        let wall = WallClock()
        let records = state.table.takeChanges().map { JournalRecord($0, wall: wall) }
        if journal.append(records, completion: completion) { return nil }
        return { completion(nil) }
    }

    /// Every holder, for the journal's compaction, taken under the mutex.
    private func snapshot() -> (holders: [JournalRecord.StoredLock], lastFencingToken: FencingToken) {
        state.withLock { state in
            let wall = WallClock()
            return (state.table.holders.map { JournalRecord.StoredLock($0, wall: wall) }, state.table.lastFencingToken)
        }
    }

    /// Turns the table's events into answers for parked requests, logs them, and makes
    /// sure the timer is set no later than the next deadline. Called under the mutex.
    private func settle(_ state: inout State) -> [Answer] {
        let events = state.table.takeEvents()
        var answers: [Answer] = []
        for event in events {
            logger.debug("\(event.logDescription)")
            switch event {
            case .granted(let lock):
                if let promise = state.parked.removeValue(forKey: lock.id) {
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
        let answerNow = state.withLock { state -> (@Sendable () -> Void)? in
            if state.timerDeadline == deadline {
                state.timerDeadline = nil
                state.timer = nil
            }
            state.table.advance(to: .now)
            return self.commit(&state, answers: self.settle(&state))
        }
        answerNow?()
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
        case .granted(let lock): return "granted \(lock.resource)/\(lock.id) to a waiter, token \(lock.fencingToken ?? 0)"
        case .waitTimedOut(let id, let resource): return "wait timed out for \(resource)/\(id)"
        case .waiterDeleted(let id, let resource): return "waiter \(resource)/\(id) deleted"
        case .expired(let id, let resource): return "lock \(resource)/\(id) expired"
        case .holderDeleted(let id, let resource): return "holder \(resource)/\(id) deleted by admin"
        }
    }
}
