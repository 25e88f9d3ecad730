import Foundation
import Histogram

#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds on the monotonic clock (the clock NIO's deadlines use), read through the vDSO.
@inline(__always)
func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// A latency histogram in nanoseconds, 3 significant digits, up to 10 minutes.
struct Latencies: Sendable {
    private(set) var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(_ nanoseconds: UInt64) {
        _ = histogram.record(min(nanoseconds, 600_000_000_000))
    }

    /// Records a signed difference; negative values (possible only when a client-side ideal
    /// time is an upper bound) are counted as zero and tallied by the caller.
    mutating func record(signed nanoseconds: Int64) {
        record(UInt64(max(0, nanoseconds)))
    }

    mutating func merge(_ other: Latencies) {
        histogram.add(other.histogram)
    }

    var summary: LatencySummary {
        func us(_ value: UInt64) -> Double { (Double(value) / 1_000).rounded(toPlaces: 1) }
        guard histogram.totalCount > 0 else { return LatencySummary(count: 0, p50_us: 0, p90_us: 0, p99_us: 0, max_us: 0, mean_us: 0) }
        return LatencySummary(
            count: histogram.totalCount,
            p50_us: us(histogram.valueAtPercentile(50)),
            p90_us: us(histogram.valueAtPercentile(90)),
            p99_us: us(histogram.valueAtPercentile(99)),
            max_us: us(histogram.max),
            mean_us: (histogram.mean / 1_000).rounded(toPlaces: 1))
    }
}

struct LatencySummary: Codable, Sendable {
    var count: UInt64
    var p50_us: Double
    var p90_us: Double
    var p99_us: Double
    var max_us: Double
    var mean_us: Double
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = Foundation.pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}

/// Resident set size of a process in KiB, from /proc/PID/status (VmRSS).
func residentKiB(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

/// Prints a result as one line of JSON on standard output (the orchestrator reads it).
func emit(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Counts of answers by "METHOD status", and of connection failures.
struct StatusCounts: Sendable {
    /// Kept by (method, status) while running: formatting a "METHOD status" key per answer
    /// was a visible part of the generator's CPU (it shares the machine with the daemon).
    private struct Key: Hashable, Sendable {
        var method: String
        var status: Int
    }

    private var byKey: [Key: UInt64] = [:]

    /// "METHOD status" → count, as reported.
    var counts: [String: UInt64] {
        Dictionary(byKey.map { ("\($0.key.method) \($0.key.status)", $0.value) }, uniquingKeysWith: +)
    }

    mutating func add(_ method: StaticString, _ status: Int) {
        byKey[Key(method: method.description, status: status), default: 0] += 1
    }

    mutating func merge(_ other: StatusCounts) {
        byKey.merge(other.byKey, uniquingKeysWith: +)
    }
}

/// A server the generator connects to.
struct Target: Sendable {
    var host: String
    var port: Int
    /// The Host header's value.
    var authority: String { "\(host):\(port)" }
}

/// The targets of options given once or more, each a host:port or a comma-separated list of them.
func parseTargets(_ options: [String]) throws -> [Target] {
    let targets = try options.flatMap { $0.split(separator: ",") }.map { text in
        let (host, port) = try parseTarget(String(text))
        return Target(host: host, port: port)
    }
    guard !targets.isEmpty else { throw LoadgenError("no --target given") }
    return targets
}

/// Splits "host:port" (or "http://host:port/") into its parts.
func parseTarget(_ text: String) throws -> (host: String, port: Int) {
    var rest = Substring(text)
    if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
    if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
    guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
        throw LoadgenError("target must be host:port, not \(text)")
    }
    return (String(rest[..<colon]), port)
}

struct LoadgenError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The path part of an absolute URL from a Location header ("http://h:p/locks/a/b" → "/locks/a/b"),
/// found by scanning bytes (this runs once per acquire).
func pathOfURL(_ url: UnsafeRawBufferPointer) -> String {
    var start = 0
    let slash = UInt8(ascii: "/")
    // After "scheme://", the path starts at the next "/".
    if let scheme = (0..<max(0, url.count - 2)).first(where: { url[$0] == UInt8(ascii: ":") && url[$0 + 1] == slash && url[$0 + 2] == slash }) {
        guard let pathStart = (scheme + 3..<url.count).first(where: { url[$0] == slash }) else { return "/" }
        start = pathStart
    }
    return String(decoding: UnsafeRawBufferPointer(rebasing: url[start...]), as: UTF8.self)
}
