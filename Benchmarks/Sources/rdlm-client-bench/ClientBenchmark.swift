import ArgumentParser
import Foundation
import Logging
import RDLMClient
import RDLMServer

@main
struct ClientBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rdlm-client-bench",
        abstract: "Drives concurrent acquire/release cycles through RDLMClient and reports throughput and latency.",
        discussion: """
            Each worker acquires a lock on a resource of its own (no contention: this measures \
            the client and the HTTP path), releases it, and starts again, until the time is up. \
            Without --url, an rdlmd is started in this process on a free port.

            Example:
              rdlm-client-bench --url http://127.0.0.1:8888 --concurrency 10 --duration 10
            """)

    @Option(help: "The daemon to drive; by default one is started in-process.")
    var url: String?

    @Option(help: "Concurrent workers (requests in flight).")
    var concurrency = 10

    @Option(help: "Seconds to run, after the warm-up.")
    var duration: Double = 10

    @Option(help: "Seconds of warm-up, not counted.")
    var warmup: Double = 1

    @Option(help: "Lifetime of each lock, in seconds.")
    var lifetime: Double = 10

    @Option(help: "Event-loop threads of the in-process daemon.")
    var serverThreads = 2

    @Flag(help: "Run the workers on the client's curl thread (RDLMClient.taskExecutor) instead of the global pool.")
    var onClientThread = false

    func run() async throws {
        var server: LockServer?
        let baseURL: URL
        if let url {
            guard let parsed = URL(string: url) else { throw ValidationError("not a URL: \(url)") }
            baseURL = parsed
        } else {
            var logger = Logger(label: "rdlmd")
            logger.logLevel = .warning
            let started = try await LockServer.start(
                configuration: ServerConfiguration(host: "127.0.0.1", port: 0, threads: serverThreads), logger: logger)
            server = started
            baseURL = URL(string: "http://127.0.0.1:\(started.port)")!
        }
        let configuration = RDLMClient.Configuration(
            baseURL: baseURL, defaultTitle: "rdlm-client-bench", defaultLifetime: .milliseconds(Int64(lifetime * 1_000)),
            defaultWait: .seconds(10), maximumConnections: max(64, concurrency * 2))
        let mode = onClientThread ? "on the client's curl thread" : "on the global pool"
        print("rdlm-client-bench: \(concurrency) workers \(mode) for \(duration) s (after \(warmup) s warm-up) against \(baseURL.absoluteString)\(server == nil ? "" : " (in-process rdlmd)")")
        let report = try await RDLMClient.withClient(configuration: configuration) { client in
            _ = try await runWorkers(client, for: warmup)
            return try await runWorkers(client, for: duration)
        }
        await server?.shutdown()
        report.print(duration: duration)
    }

    /// Runs the workers for `seconds` and merges what they measured.
    private func runWorkers(_ client: RDLMClient, for seconds: Double) async throws -> Report {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1_000))
        return try await withThrowingTaskGroup(of: Report.self) { group in
            for worker in 0..<concurrency {
                group.addTask(executorPreference: onClientThread ? client.taskExecutor : nil) {
                    var report = Report()
                    report.latencies.reserveCapacity(100_000)
                    let resource = "bench\(worker)"
                    while ContinuousClock.now < deadline {
                        let started = ContinuousClock.now
                        do {
                            let lock = try await client.acquire(resource)
                            try await client.release(lock)
                            report.latencies.append(ContinuousClock.now - started)
                        } catch {
                            report.errors += 1
                            if report.errors == 1 { FileHandle.standardError.write(Data("worker \(worker): \(error)\n".utf8)) }
                        }
                    }
                    return report
                }
            }
            var total = Report()
            for try await report in group { total.merge(report) }
            return total
        }
    }
}

/// Cycle latencies and error count.
struct Report: Sendable {
    var latencies: [Duration] = []
    var errors = 0

    mutating func merge(_ other: Report) {
        latencies += other.latencies
        errors += other.errors
    }

    func print(duration: Double) {
        let sorted = latencies.sorted()
        func percentile(_ fraction: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
            return String(format: "%.3f ms", sorted[max(0, index)].milliseconds)
        }
        Swift.print(String(format: "cycles: %d (%.0f/s), errors: %d", sorted.count, Double(sorted.count) / duration, errors))
        Swift.print("cycle latency (acquire + release): p50 \(percentile(0.50)), p90 \(percentile(0.90)), p99 \(percentile(0.99)), max \(percentile(1.0))")
    }
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
