/// Durations on the wire: JSON numbers of seconds, kept to the microsecond (finer than
/// any timer, and free of binary-fraction noise). Whole seconds print as integers, as the
/// original printed them: `300`, `0.25`.
public enum WireSeconds {
    public static func format(_ duration: Duration) -> String {
        let microseconds = self.microseconds(duration)
        if microseconds % 1_000_000 == 0 { return String(microseconds / 1_000_000) }
        return String(Double(microseconds) / 1_000_000)
    }

    /// The duration a JSON number of seconds stands for, rounded to the microsecond.
    /// The caller checks first that `seconds` is finite and in range.
    public static func duration(seconds: Double) -> Duration {
        .microseconds(Int64((seconds * 1_000_000).rounded()))
    }

    /// Whole microseconds, rounded half up.
    public static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + (attoseconds + 500_000_000_000) / 1_000_000_000_000
    }
}
