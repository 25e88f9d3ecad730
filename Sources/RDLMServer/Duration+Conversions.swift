import NIOCore

extension Duration {
    /// Whole nanoseconds, the unit of NIO's timers.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The same span as an NIO `TimeAmount`.
    var timeAmount: TimeAmount { .nanoseconds(nanoseconds) }

    /// Seconds as a floating-point number, for comparisons with numbers from JSON.
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
