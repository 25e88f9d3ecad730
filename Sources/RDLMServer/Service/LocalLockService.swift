import Logging
import NIOCore
import RDLMCore
import Synchronization

/// The lock table in this process's memory, behind one mutex, optionally journaled to
/// `--data-dir`.
///
/// Every operation takes the mutex, lets the table decide, collects what the decision means
/// for parked requests, and completes their promises (and writes its debug log) after
/// letting go of the mutex. A `DeadlineTimer` keeps one wake-up armed for the table's
/// earliest deadline; time comes from an injected `LockClock`.
///
/// With a journal, the changes an operation made are queued to it under the same mutex (so
/// the journal's order is the table's), and every answer that operation produced, to its
/// caller or to parked waiters, goes out only once those changes, and all before them,
/// are on disk.
public final class LocalLockService: LockService, LockEventSource {
    private struct State {
        var table: LockTable
        var parked = ParkedAcquires()
        var timer = DeadlineTimer()
        var isShuttingDown = false
    }

    private let state: Mutex<State>
    /// The table's limits, fixed at start: refusals name them without taking the mutex.
    private let limits: LockTableLimits
    private let clock: any LockClock
    private let logger: Logger
    /// Whether debug lines are wanted, decided once: collecting them costs a little.
    private let logsDebug: Bool
    private let journal: Journal?
    private let metrics: ServerMetrics?
    /// Where every change is published for `GET /events`, if anywhere.
    private let events: LockEventHub?

    /// - Parameters:
    ///   - lastFencingToken: tokens start after this one (see `FencingSeed`).
    ///   - holders: locks to start with, restored from `journal`'s directory.
    ///   - metrics: where holds that end are counted, if anywhere.
    init(limits: LockTableLimits, lastFencingToken: FencingToken, holders: [LockInfo] = [], journal: Journal?, metrics: ServerMetrics? = nil, events: LockEventHub? = nil, clock: any LockClock, logger: Logger) {
        let table = LockTable(
            limits: limits, lastFencingToken: lastFencingToken, recordsChanges: journal != nil,
            recordsActivity: metrics != nil || events != nil, holders: holders)
        self.metrics = metrics
        self.events = events
        self.state = Mutex(State(table: table))
        self.limits = limits
        self.clock = clock
        self.logger = logger
        self.logsDebug = logger.logLevel <= .debug
        self.journal = journal
        journal?.setSnapshotSource { [weak self] in
            self?.snapshot() ?? ([], lastFencingToken)
        }
        state.withLock { armTimer(&$0) }
    }

    /// An in-memory service, as the original RDLM was.
    public convenience init(limits: LockTableLimits, lastFencingToken: FencingToken, clock: any LockClock, logger: Logger) {
        self.init(limits: limits, lastFencingToken: lastFencingToken, journal: nil, clock: clock, logger: logger)
    }

    /// Locks held or waiting, for the memory reclaimer and tests.
    public var lockCount: Int { state.withLock { $0.table.lockCount } }
    /// Resources with locks, for tests.
    public var resourceCount: Int { state.withLock { $0.table.resourceCount } }

    func subscribe(_ subscription: EventSubscription, to hub: LockEventHub, lastEventID: String?) -> LockEventHub.Opening {
        state.withLock { state in
            switch hub.subscribe(subscription, lastEventID: lastEventID) {
            case .replay(let records):
                return .replay(records)
            case .snapshot(let id, let reset):
                let names = subscription.resource.map { [$0] } ?? state.table.resourceNames
                let resources = names.map { (name: $0, locks: state.table.locks(on: $0)) }
                return .snapshot(id: id, reset: reset, resources: resources.filter { !$0.locks.isEmpty }, time: clock.now)
            }
        }
    }

    public func metricsLevels() -> ServerMetrics.Levels {
        state.withLock { ServerMetrics.Levels(held: $0.table.holderCount, waiting: $0.table.waiterCount, resources: $0.table.resourceCount) }
    }

    public func acquire(_ request: LockRequest, on resource: String, id: LockID, eventLoop: any EventLoop) -> EventLoopFuture<AcquireOutcome> {
        var parked: EventLoopFuture<AcquireOutcome>?
        // For a queued request `perform`'s own future is not used (its value is a
        // placeholder): the answer comes through the parked promise.
        let immediate = perform(on: eventLoop) { [clock, limits] state, log -> AcquireOutcome in
            guard !state.isShuttingDown else { return .shuttingDown }
            let outcome: AcquireOutcome
            switch state.table.acquire(request, on: resource, id: id, now: clock.now) {
            case .granted(let lock):
                outcome = .granted(lock, afterWaiting: false)
            case .queued:
                let promise = eventLoop.makePromise(of: AcquireOutcome.self)
                state.parked.park(id, promise)
                parked = promise.futureResult
                log?.append("acquire \(resource)/\(id) queued")
                return .abandoned
            case .refused(.wouldWait):
                outcome = .waitTimedOut
            case .refused(.tooManyWaiters):
                outcome = .refused(.tooManyWaiters(limit: limits.maxWaitersPerResource))
            case .refused(.tableFull):
                outcome = .refused(.tableFull(limit: limits.maxLocks))
            case .refused(.tooManyForClient):
                outcome = .refused(.tooManyForClient(limit: limits.maxLocksPerClient))
            case .refused(.duplicateID):
                // The table has this id (after expiring what was due): on this resource, a
                // retry of an acquire the client named (`RDLM-Request-Id`) whose answer it lost.
                switch state.table.lock(id, on: resource) {
                case let existing? where existing.isActive: outcome = .granted(existing)
                case .some: outcome = .refused(.requestInProgress)
                case nil: outcome = .refused(.duplicateID)
                }
            }
            log?.append("acquire \(resource)/\(id): \(outcome.logDescription)")
            return outcome
        }
        return parked ?? immediate
    }

    public func abandon(_ id: LockID, on resource: String) {
        var log: [String]? = logsDebug ? [] : nil
        let answerNow = state.withLock { state -> (@Sendable () -> Void)? in
            guard let promise = state.parked.take(id) else { return nil }
            state.table.abandon(id, now: clock.now)
            log?.append("waiter \(resource)/\(id) left")
            // Its leaving may let compatible waiters behind it in: those grants are durable
            // before they are answered, like any other.
            return self.commit(&state, answers: [Answer(promise: promise, outcome: .abandoned)] + self.settle(&state, log: &log))
        }
        write(log)
        answerNow?()
    }

    public func release(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        perform(on: eventLoop) { [clock] state, log in
            let released = state.table.release(id, on: resource, now: clock.now)
            if released { log?.append("released \(resource)/\(id)") }
            return released
        }
    }

    public func refresh(_ id: LockID, on resource: String, lifetime: Duration?, eventLoop: any EventLoop) -> EventLoopFuture<LockTable.RefreshResult> {
        perform(on: eventLoop) { [clock] state, log in
            let result = state.table.refresh(id, on: resource, lifetime: lifetime, now: clock.now)
            if case .refreshed = result { log?.append("refreshed \(resource)/\(id)") }
            return result
        }
    }

    public func lock(_ id: LockID, on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<LockInfo?> {
        perform(on: eventLoop) { [clock] state, _ in
            state.table.advance(to: clock.now)
            return state.table.lock(id, on: resource)
        }
    }

    public func resourceNames(eventLoop: any EventLoop) -> EventLoopFuture<[String]> {
        perform(on: eventLoop) { [clock] state, _ in
            state.table.advance(to: clock.now)
            return state.table.resourceNames
        }
    }

    public func locks(on resource: String, eventLoop: any EventLoop) -> EventLoopFuture<[LockInfo]> {
        perform(on: eventLoop) { [clock] state, _ in
            state.table.advance(to: clock.now)
            return state.table.locks(on: resource)
        }
    }

    public func deleteResource(_ resource: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        perform(on: eventLoop) { [clock] state, log in
            let deleted = state.table.deleteResource(resource, now: clock.now)
            if deleted { log?.append("resource \(resource) deleted by admin") }
            return deleted
        }
    }

    public func deleteAll(eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        perform(on: eventLoop) { [clock] state, log in
            state.table.deleteAll(now: clock.now)
            log?.append("all resources deleted by admin")
        }
    }

    /// Gives back the room of collections that grew for locks now gone (see
    /// `LockTable.compact()`); called by the memory reclaimer after a large drop.
    func compact() {
        state.withLock { state in
            state.table.compact()
            state.parked.compact()
        }
    }

    public func readiness(eventLoop: any EventLoop) -> EventLoopFuture<[ReadinessCheck]> {
        let accepting = ReadinessCheck.accepting(shuttingDown: state.withLock { $0.isShuttingDown })
        guard let journal else { return eventLoop.makeSucceededFuture([accepting]) }
        return journal.readiness(eventLoop: eventLoop).map { [accepting, $0] }
    }

    public func shutdown() {
        let answers = state.withLock { state -> [Answer] in
            state.isShuttingDown = true
            state.timer.cancel()
            return state.parked.takeAll().map { Answer(promise: $0, outcome: .shuttingDown) }
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
    /// once its changes are durable (at once without a journal). `body` adds debug lines to
    /// its second argument, which is nil when debug logging is off; they are written after
    /// the mutex is let go.
    private func perform<Result: Sendable>(on eventLoop: any EventLoop, _ body: (inout State, inout [String]?) -> Result) -> EventLoopFuture<Result> {
        var log: [String]? = logsDebug ? [] : nil
        guard journal != nil else {
            let (result, answers) = state.withLock { state in
                let result = body(&state, &log)
                return (result, self.settle(&state, log: &log))
            }
            write(log)
            deliver(answers)
            return eventLoop.makeSucceededFuture(result)
        }
        let promise = eventLoop.makePromise(of: Result.self)
        let answerNow = state.withLock { state -> (@Sendable () -> Void)? in
            let result = body(&state, &log)
            return self.commit(&state, answers: self.settle(&state, log: &log)) { error in
                if let error { promise.fail(error) } else { promise.succeed(result) }
            }
        }
        write(log)
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

    /// Turns the table's events into answers for parked requests, notes them for the debug
    /// log, and makes sure the timer is set no later than the next deadline. Called under
    /// the mutex.
    private func settle(_ state: inout State, log: inout [String]?) -> [Answer] {
        let events = state.table.takeEvents()
        var answers: [Answer] = []
        for event in events {
            log?.append(event.logDescription)
            switch event {
            case .granted(let lock):
                if let promise = state.parked.take(lock.id) {
                    answers.append(Answer(promise: promise, outcome: .granted(lock, afterWaiting: true)))
                }
            case .waitTimedOut(let id, _):
                if let promise = state.parked.take(id) {
                    answers.append(Answer(promise: promise, outcome: .waitTimedOut))
                }
            case .waiterDeleted(let id, _):
                if let promise = state.parked.take(id) {
                    answers.append(Answer(promise: promise, outcome: .deleted))
                }
            case .expired, .holderDeleted:
                break
            }
        }
        let changes = state.table.takeActivity()
        if let metrics {
            for change in changes {
                if let heldFor = change.heldFor { metrics.holdEnded(after: heldFor, expired: change.kind == .expired) }
            }
        }
        // Under the mutex, so the stream's order is the table's.
        self.events?.publish(changes)
        armTimer(&state)
        return answers
    }

    private func armTimer(_ state: inout State) {
        guard !state.isShuttingDown else { return }
        state.timer.arm(for: state.table.nextDeadline, clock: clock) { [weak self] deadline in
            self?.timerFired(for: deadline)
        }
    }

    private func timerFired(for deadline: ContinuousClock.Instant) {
        var log: [String]? = logsDebug ? [] : nil
        let answerNow = state.withLock { state -> (@Sendable () -> Void)? in
            state.timer.fired(for: deadline)
            state.table.advance(to: clock.now)
            return self.commit(&state, answers: self.settle(&state, log: &log))
        }
        write(log)
        answerNow?()
    }

    private func deliver(_ answers: [Answer]) {
        for answer in answers {
            answer.promise.succeed(answer.outcome)
        }
    }

    private func write(_ log: [String]?) {
        guard let log else { return }
        for line in log { logger.debug("\(line)") }
    }
}

extension AcquireOutcome {
    var logDescription: String {
        switch self {
        case .granted(let lock, _): return "granted, token \(lock.fencingToken ?? 0)"
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
