/// Lets a log line that can come in floods through at most once per `interval`, and says
/// how many were held back in between, so a fault that repeats thousands of times a second
/// (failing accepts, failing compactions) costs a line now and then, not the disk.
///
/// A value type: keep it where its owner's other state is confined (one event loop, one
/// queue).
struct LogThrottle {
    let interval: Duration
    private var lastLine: ContinuousClock.Instant?
    private var held = 0

    init(interval: Duration) {
        self.interval = interval
    }

    /// Whether to log an occurrence at `now`: nil to hold it back, else how many occurrences
    /// since the last line were held back (for the line to say).
    mutating func admit(at now: ContinuousClock.Instant = .now) -> Int? {
        if let lastLine, now < lastLine + interval {
            held += 1
            return nil
        }
        defer {
            lastLine = now
            held = 0
        }
        return held
    }

    /// Occurrences held back since the last line (to report when the fault clears).
    var suppressed: Int { held }
}
