import NIOCore
import Synchronization

/// The time a lock service goes by, and its way of being woken at a deadline. Injected,
/// so that tests move time on by hand instead of sleeping.
public protocol LockClock: Sendable {
    var now: ContinuousClock.Instant { get }
    /// Runs `body` once, at `deadline` or soon after (at once if it has passed).
    func wake(at deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () -> Void) -> any ScheduledWake
}

/// A wake-up that can be called off.
public protocol ScheduledWake: Sendable {
    func cancel()
}

/// Real time, with wake-ups as tasks on one event loop.
public struct EventLoopClock: LockClock {
    let loop: any EventLoop

    public init(loop: any EventLoop) {
        self.loop = loop
    }

    public var now: ContinuousClock.Instant { .now }

    public func wake(at deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () -> Void) -> any ScheduledWake {
        let delay = max(0, (deadline - .now).nanoseconds)
        return ScheduledTask(task: loop.scheduleTask(in: .nanoseconds(delay), body))
    }

    private struct ScheduledTask: ScheduledWake {
        let task: Scheduled<Void>
        func cancel() { task.cancel() }
    }
}

/// Time that moves only when told to: `advance(by:)` runs every wake-up that falls due, in
/// deadline order, on the caller's thread. For tests.
public final class ManualClock: LockClock {
    private struct Pending {
        var deadline: ContinuousClock.Instant
        var number: Int
        var body: @Sendable () -> Void
    }

    private struct State {
        var now: ContinuousClock.Instant
        var pending: [Pending] = []
        var lastNumber = 0
    }

    private let state: Mutex<State>

    public init(start: ContinuousClock.Instant = .now) {
        state = Mutex(State(now: start))
    }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }

    public func wake(at deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () -> Void) -> any ScheduledWake {
        let number = state.withLock { state in
            state.lastNumber += 1
            state.pending.append(Pending(deadline: deadline, number: state.lastNumber, body: body))
            return state.lastNumber
        }
        return Wake(clock: self, number: number)
    }

    /// Moves time on, running what falls due (wake-ups may schedule more; those that fall
    /// due within the step run too).
    public func advance(by step: Duration) {
        let target = state.withLock { $0.now + step }
        while true {
            let due = state.withLock { state -> Pending? in
                guard let index = state.pending.indices.filter({ state.pending[$0].deadline <= target })
                    .min(by: { (state.pending[$0].deadline, state.pending[$0].number) < (state.pending[$1].deadline, state.pending[$1].number) })
                else {
                    state.now = target
                    return nil
                }
                let next = state.pending.remove(at: index)
                state.now = max(state.now, next.deadline)
                return next
            }
            guard let due else { return }
            due.body()
        }
    }

    /// Wake-ups not yet run.
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    fileprivate func cancel(_ number: Int) {
        state.withLock { $0.pending.removeAll { $0.number == number } }
    }

    private struct Wake: ScheduledWake {
        let clock: ManualClock
        let number: Int
        func cancel() { clock.cancel(number) }
    }
}
