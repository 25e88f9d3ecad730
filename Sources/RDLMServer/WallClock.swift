import Synchronization

/// Converts monotonic instants to wall-clock times for people and for the journal.
///
/// The offset between the two clocks is sampled once and kept, so one instant always
/// shows as the same timestamp (two samples differ by the time between their two clock
/// reads). It is sampled again at most once a second, and replaced only when the wall
/// clock has really moved (by more than a millisecond), as after an NTP step.
struct WallClock {
    private let wallNanoseconds: Int64
    private let reference: ContinuousClock.Instant

    private struct Calibration {
        var reference: ContinuousClock.Instant
        var wallNanoseconds: Int64
        var checked: ContinuousClock.Instant
    }

    private static let calibration = Mutex(sample())

    init() {
        let now = ContinuousClock.now
        let current = Self.calibration.withLock { calibration -> Calibration in
            if now - calibration.checked >= .seconds(1) {
                let fresh = Self.sample()
                let predicted = calibration.wallNanoseconds + (fresh.reference - calibration.reference).nanoseconds
                if abs(fresh.wallNanoseconds - predicted) > 1_000_000 {
                    calibration = fresh
                } else {
                    calibration.checked = fresh.checked
                }
            }
            return calibration
        }
        reference = current.reference
        wallNanoseconds = current.wallNanoseconds
    }

    private static func sample() -> Calibration {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let now = ContinuousClock.now
        return Calibration(reference: now, wallNanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec), checked: now)
    }

    /// Wall-clock nanoseconds since the Unix epoch of a monotonic instant.
    func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        wallNanoseconds + (instant - reference).nanoseconds
    }

    /// The monotonic instant of a wall-clock time (nanoseconds since the Unix epoch).
    func instant(_ nanoseconds: Int64) -> ContinuousClock.Instant {
        reference + .nanoseconds(nanoseconds - wallNanoseconds)
    }

    func timestamp(_ instant: ContinuousClock.Instant) -> String {
        Self.timestamp(wallNanoseconds: nanoseconds(instant))
    }

    /// The same timestamp, appended to UTF-8 bytes.
    func appendTimestamp(_ instant: ContinuousClock.Instant, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 27))
        bytes.withUnsafeMutableBufferPointer { buffer in
            _ = Self.writeTimestamp(wallNanoseconds: nanoseconds(instant), fractionDigits: 6, into: UnsafeMutableBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// RFC 3339 in UTC (`2026-12-04T01:09:00.123456Z`) of a wall-clock time in nanoseconds
    /// since the Unix epoch, with `fractionDigits` (1 to 6) digits of the second.
    static func timestamp(wallNanoseconds nanoseconds: Int64, fractionDigits: Int = 6) -> String {
        // Written as bytes into one string: padding each field as a string of its own was
        // seven allocations per timestamp, two timestamps per lock shown.
        String(unsafeUninitializedCapacity: 21 + fractionDigits) { text in
            writeTimestamp(wallNanoseconds: nanoseconds, fractionDigits: fractionDigits, into: text)
        }
    }

    /// Writes the timestamp into the first `21 + fractionDigits` bytes of `text`; returns
    /// how many it wrote.
    private static func writeTimestamp(wallNanoseconds nanoseconds: Int64, fractionDigits: Int, into text: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var wholeSeconds = time_t(nanoseconds / 1_000_000_000)
        var microseconds = Int((nanoseconds % 1_000_000_000) / 1_000)
        if microseconds < 0 {
            wholeSeconds -= 1
            microseconds += 1_000_000
        }
        var fraction = microseconds
        for _ in fractionDigits..<6 { fraction /= 10 }
        var parts = tm()
        gmtime_r(&wholeSeconds, &parts)
        var at = 0
        func digits(_ value: Int, _ width: Int) {
            var rest = value
            for offset in (0..<width).reversed() {
                text[at + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            at += width
        }
        func byte(_ character: Unicode.Scalar) {
            text[at] = UInt8(ascii: character)
            at += 1
        }
        // Years past 9999 cannot occur: instants shown are within a lock's lifetime of now.
        digits(min(Int(parts.tm_year) + 1900, 9999), 4)
        byte("-")
        digits(Int(parts.tm_mon) + 1, 2)
        byte("-")
        digits(Int(parts.tm_mday), 2)
        byte("T")
        digits(Int(parts.tm_hour), 2)
        byte(":")
        digits(Int(parts.tm_min), 2)
        byte(":")
        digits(Int(parts.tm_sec), 2)
        byte(".")
        digits(fraction, fractionDigits)
        byte("Z")
        return at
    }
}
