/// One wake-up, always armed for the lock table's earliest deadline, so expiries and wait
/// timeouts fire on time rather than on the next request or a periodic sweep. Kept under
/// the service's mutex.
struct DeadlineTimer {
    private var wake: (any ScheduledWake)?
    private var armedFor: ContinuousClock.Instant?

    /// Makes sure a wake-up comes no later than `next`. One armed for an earlier deadline
    /// that went away is left to fire: it finds nothing due and re-arms for the next one,
    /// which is cheaper than cancelling and re-arming on every release.
    mutating func arm(for next: ContinuousClock.Instant?, clock: any LockClock, fire: @escaping @Sendable (ContinuousClock.Instant) -> Void) {
        guard let next else { return }
        if let armedFor, armedFor <= next { return }
        wake?.cancel()
        armedFor = next
        wake = clock.wake(at: next) { fire(next) }
    }

    /// The wake-up for `deadline` ran: forget it, unless a newer one replaced it.
    mutating func fired(for deadline: ContinuousClock.Instant) {
        guard armedFor == deadline else { return }
        armedFor = nil
        wake = nil
    }

    mutating func cancel() {
        wake?.cancel()
        wake = nil
        armedFor = nil
    }
}
