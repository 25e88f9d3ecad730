/// When the journal may try compacting again after a failure. A compaction that fails
/// (no descriptors, a full disk) would otherwise be retried on every flush, thousands of
/// times a second, each retry taking a snapshot of every holder: the delay starts at
/// `initial`, doubles with every failure up to `maximum`, and a success resets it.
struct CompactionBackoff {
    let initial: Duration
    let maximum: Duration
    private(set) var failures = 0
    private var notBefore: ContinuousClock.Instant?
    private var delay: Duration

    init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
        delay = initial
    }

    func allowsAttempt(at now: ContinuousClock.Instant = .now) -> Bool {
        notBefore.map { now >= $0 } ?? true
    }

    /// Records a failure at `now`; returns how long until the next attempt.
    @discardableResult
    mutating func failed(at now: ContinuousClock.Instant = .now) -> Duration {
        let wait = delay
        failures += 1
        notBefore = now + wait
        delay = min(delay * 2, maximum)
        return wait
    }

    mutating func succeeded() {
        failures = 0
        notBefore = nil
        delay = initial
    }
}
