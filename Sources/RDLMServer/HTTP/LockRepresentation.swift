#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RDLMCore
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
        let nanoseconds = nanoseconds(instant)
        var wholeSeconds = time_t(nanoseconds / 1_000_000_000)
        var microseconds = Int((nanoseconds % 1_000_000_000) / 1_000)
        if microseconds < 0 {
            wholeSeconds -= 1
            microseconds += 1_000_000
        }
        var parts = tm()
        gmtime_r(&wholeSeconds, &parts)
        return Self.pad(Int(parts.tm_year) + 1900, 4) + "-" + Self.pad(Int(parts.tm_mon) + 1, 2) + "-"
            + Self.pad(Int(parts.tm_mday), 2) + "T" + Self.pad(Int(parts.tm_hour), 2) + ":"
            + Self.pad(Int(parts.tm_min), 2) + ":" + Self.pad(Int(parts.tm_sec), 2) + "."
            + Self.pad(microseconds, 6) + "Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// The HAL documents of the API.
enum LockRepresentation {
    static func lockPath(_ resource: String, _ id: LockID) -> String {
        "/locks/\(resource)/\(id)"
    }

    static func resourcePath(_ resource: String) -> String {
        "/resources/\(resource)"
    }

    /// One lock: the original's fields, plus `fencing_token` and `mode`.
    static func write(_ lock: LockInfo, clock: WallClock, resourceLink: Bool, into json: inout JSONWriter) {
        json.beginObject()
        json.field("uid", lock.id.description)
        json.field("title", lock.request.title)
        json.field("lifetime", seconds: lock.request.lifetime)
        json.field("wait", seconds: lock.request.wait)
        json.field("mode", lock.request.mode.rawValue)
        switch lock.state {
        case .active(let since, let expires, let token):
            json.field("active", true)
            json.field("active_since", clock.timestamp(since))
            json.field("active_expires", clock.timestamp(expires))
            json.field("fencing_token", token)
        case .waiting(let since, let expires):
            json.field("active", false)
            json.field("wait_since", clock.timestamp(since))
            json.field("wait_expires", clock.timestamp(expires))
        }
        json.beginObject("_links")
        json.link("self", lockPath(lock.resource, lock.id))
        if resourceLink { json.link("resource", resourcePath(lock.resource)) }
        json.endObject()
        json.endObject()
    }

    static func lock(_ lock: LockInfo) -> String {
        var json = JSONWriter()
        write(lock, clock: WallClock(), resourceLink: true, into: &json)
        return json.text
    }

    /// `GET /resources/{name}`: the name, and the locks embedded when there are any.
    static func resource(_ name: String, locks: [LockInfo]) -> String {
        let clock = WallClock()
        var json = JSONWriter()
        json.beginObject()
        json.field("name", name)
        json.beginObject("_links")
        json.link("self", resourcePath(name))
        json.endObject()
        if !locks.isEmpty {
            json.beginObject("_embedded")
            json.beginArray("locks")
            for lock in locks { write(lock, clock: clock, resourceLink: false, into: &json) }
            json.endArray()
            json.endObject()
        }
        json.endObject()
        return json.text
    }

    /// `GET /resources`: the resources that have locks, embedded when there are any.
    static func resources(_ names: [String]) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.beginObject("_links")
        json.link("self", "/resources")
        json.endObject()
        if !names.isEmpty {
            json.beginObject("_embedded")
            json.beginArray("resources")
            for name in names.sorted() {
                json.beginObject()
                json.field("name", name)
                json.beginObject("_links")
                json.link("self", resourcePath(name))
                json.endObject()
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
        json.endObject()
        return json.text
    }
}
