import Foundation
import Histogram

/// The result of `rdlm bench`, as a table or as one line of JSON.
struct BenchSummary {
    var server: String
    var connections: Int
    var resources: String
    var elapsed: Duration
    var record: BenchRecord

    var cyclesPerSecond: Double {
        Double(record.cycles) / max(elapsed.seconds, 0.001)
    }

    var errorTotal: Int { record.errors.values.reduce(0, +) }

    /// Latency percentiles in milliseconds.
    struct Latency: Encodable {
        var count: UInt64
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
        var mean: Double

        init(_ histogram: Histogram<UInt64>) {
            count = histogram.totalCount
            func milliseconds(_ microseconds: UInt64) -> Double { Double(microseconds) / 1_000 }
            let empty = histogram.totalCount == 0
            p50 = empty ? 0 : milliseconds(histogram.valueAtPercentile(50))
            p90 = empty ? 0 : milliseconds(histogram.valueAtPercentile(90))
            p99 = empty ? 0 : milliseconds(histogram.valueAtPercentile(99))
            max = empty ? 0 : milliseconds(histogram.max)
            mean = empty ? 0 : (histogram.mean).rounded() / 1_000
        }
    }

    private struct Document: Encodable {
        var server: String
        var connections: Int
        var resources: String
        var duration: Double
        var cycles: Int
        var cyclesPerSecond: Double
        var acquireMs: Latency
        var releaseMs: Latency
        var errors: [String: Int]
        var errorTotal: Int

        enum CodingKeys: String, CodingKey {
            case server, connections, resources, duration, cycles, errors
            case cyclesPerSecond = "cycles_per_second"
            case acquireMs = "acquire_ms"
            case releaseMs = "release_ms"
            case errorTotal = "error_total"
        }
    }

    var json: String {
        JSONLine.encode(Document(
            server: server, connections: connections, resources: resources,
            duration: (elapsed.seconds * 1_000).rounded() / 1_000, cycles: record.cycles,
            cyclesPerSecond: (cyclesPerSecond * 10).rounded() / 10,
            acquireMs: Latency(record.acquire), releaseMs: Latency(record.release),
            errors: record.errors, errorTotal: errorTotal))
    }

    var lines: [String] {
        let acquire = Latency(record.acquire)
        let release = Latency(record.release)
        func row(_ name: String, _ latency: Latency) -> String {
            "  " + name.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: " %9.3f %9.3f %9.3f %9.3f", latency.p50, latency.p90, latency.p99, latency.max)
        }
        let errors = record.errors.isEmpty ? "none"
            : record.errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        return [
            "rdlm bench: \(connections) connections, \(resources == "same" ? "one resource" : "a resource each"), \(server)",
            String(format: "cycles:   %d in %.2f s = %.1f cycles/s (a cycle is acquire + release)",
                   record.cycles, elapsed.seconds, cyclesPerSecond),
            "latency (ms)      p50       p90       p99       max",
            row("acquire", acquire),
            row("release", release),
            "errors:   \(errors)",
        ]
    }
}
