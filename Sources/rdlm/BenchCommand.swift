import ArgumentParser
import Foundation
import Histogram
import RDLMClient
import Synchronization

/// `rdlm bench`: a load generator for `rdlmd`, like `redis-benchmark`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load the server with acquire/release cycles and report throughput and latency.",
        discussion: """
            Each connection runs acquire + release cycles back to back until the time is up. \
            With --resources distinct (the default) every connection locks a resource of its \
            own, which measures the server's request path; with --resources same they all \
            contend for one, which measures hand-over to waiters. A progress line is shown \
            on stderr when it is a terminal. The summary gives cycles per second, the \
            p50/p90/p99/max latency of acquire and of release, and errors by HTTP status \
            ('transport' when there was no answer). Ctrl-C stops early with a summary.

            Examples:
              rdlm bench --connections 20 --duration 10
              rdlm bench --resources same --duration 5 --json | jq .cycles_per_second
            """)

    enum ResourceSharing: String, ExpressibleByArgument, CaseIterable, Sendable {
        case same, distinct
    }

    @OptionGroup var server: ServerOptions

    @Option(name: .long, help: "Concurrent connections, each running cycles back to back.")
    var connections = 10

    @Option(name: .long, help: ArgumentHelp("Seconds to run.", valueName: "seconds"))
    var duration: Double = 10

    @Option(name: .long, help: "One resource for all connections, or one each.")
    var resources = ResourceSharing.distinct

    @Option(name: .long, help: ArgumentHelp("Lifetime of each lock, in seconds.", valueName: "seconds"))
    var lifetime: Double = 10

    @Option(name: .long, help: ArgumentHelp("How long an acquire may wait, in seconds.", valueName: "seconds"))
    var wait: Double = 10

    @Option(name: .long, help: "Prefix of the resource names (then a connection number with distinct).")
    var prefix = "rdlmbench"

    @Flag(name: .long, help: "Print the summary as one line of JSON.")
    var json = false

    func validate() throws {
        guard (1...10_000).contains(connections) else { throw ValidationError("--connections must be from 1 to 10000") }
        try Seconds.validate(duration, name: "--duration", allowZero: false)
        try Seconds.validate(lifetime, name: "--lifetime", allowZero: false)
        try Seconds.validate(wait, name: "--wait", allowZero: true)
        try ResourceName.validate(prefix)
    }

    func run() async throws {
        let progress = BenchProgress()
        let signals = SignalEvents([SIGINT, SIGTERM]) { _ in progress.stop() }
        defer { signals.cancel() }
        let configuration = server.configuration(title: "rdlm bench", maximumConnections: connections * 2 + 4)
        let summary = try await server.withClient(configuration, doing: "bench") { client in
            // One cycle first, so that an unreachable server is one clear error.
            let probe = try await client.acquire(resource(for: 0), lifetime: Seconds.duration(lifetime), wait: Seconds.duration(wait))
            try await client.release(probe)
            return await measure(client, progress: progress)
        }
        if json {
            print(summary.json)
        } else {
            summary.lines.forEach { print($0) }
        }
    }

    private func resource(for connection: Int) -> String {
        resources == .same ? prefix : "\(prefix)\(connection)"
    }

    /// Runs the connections until the time is up (or Ctrl-C), with the progress line.
    private func measure(_ client: RDLMClient, progress: BenchProgress) async -> BenchSummary {
        let started = ContinuousClock.now
        let deadline = started + Seconds.duration(duration)
        let lifetime = Seconds.duration(lifetime)
        let wait = Seconds.duration(wait)
        let showProgress = isatty(STDERR_FILENO) == 1
        let total = await withTaskGroup(of: BenchRecord?.self) { group in
            for connection in 0..<connections {
                let resource = resource(for: connection)
                // On the client's curl thread, each answer resumes its connection's loop
                // where it was read and the next request is queued without a wake-up: no
                // thread switch per request (see RDLMClient.taskExecutor).
                group.addTask(executorPreference: client.taskExecutor) {
                    var record = BenchRecord()
                    while ContinuousClock.now < deadline, !progress.isStopped {
                        await record.cycle(client, resource: resource, lifetime: lifetime, wait: wait, progress: progress)
                    }
                    return record
                }
            }
            group.addTask {
                while showProgress, ContinuousClock.now < deadline, !progress.isStopped {
                    try? await Task.sleep(for: .milliseconds(250))
                    progress.show(elapsed: ContinuousClock.now - started, of: Seconds.duration(duration))
                }
                return nil
            }
            var total = BenchRecord()
            for await record in group {
                if let record { total.add(record) }
            }
            return total
        }
        if showProgress { progress.clearLine() }
        return BenchSummary(
            server: server.serverText, connections: connections, resources: resources.rawValue,
            elapsed: ContinuousClock.now - started, record: total)
    }
}

/// Counters the connections share with the progress line, and the stop flag.
final class BenchProgress: Sendable {
    private let cycles = Atomic<Int>(0)
    private let errors = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    func countCycle() { cycles.wrappingAdd(1, ordering: .relaxed) }
    func countError() { errors.wrappingAdd(1, ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .relaxed) }
    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// `[  3.0/10 s]   12345 cycles   4115/s   0 errors`, rewritten in place.
    func show(elapsed: Duration, of duration: Duration) {
        let cycles = cycles.load(ordering: .relaxed)
        let seconds = max(elapsed.seconds, 0.001)
        let line = String(format: "\r[%5.1f/%g s] %9d cycles %9.0f/s %6d errors",
                          min(seconds, duration.seconds), duration.seconds, cycles, Double(cycles) / seconds,
                          errors.load(ordering: .relaxed))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func clearLine() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// What one connection measured: latency histograms in microseconds, errors by status.
struct BenchRecord: Sendable {
    var cycles = 0
    var acquire = BenchRecord.histogram()
    var release = BenchRecord.histogram()
    var errors: [String: Int] = [:]

    static func histogram() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    /// One acquire + release; a failed acquire counts an error and skips the release.
    mutating func cycle(_ client: RDLMClient, resource: String, lifetime: Duration, wait: Duration, progress: BenchProgress) async {
        let started = ContinuousClock.now
        let lock: Lock
        do {
            lock = try await client.acquire(resource, lifetime: lifetime, wait: wait)
        } catch {
            await failed(error, progress: progress)
            return
        }
        let acquired = ContinuousClock.now
        _ = acquire.record(Self.microseconds(acquired - started))
        do {
            try await client.release(lock)
        } catch {
            await failed(error, progress: progress)
            return
        }
        _ = release.record(Self.microseconds(ContinuousClock.now - acquired))
        cycles += 1
        progress.countCycle()
    }

    private mutating func failed(_ error: any Error, progress: BenchProgress) async {
        let key: String
        if let error = error as? RDLMError {
            key = error.status.map(String.init) ?? (error == .transport ? "transport" : "\(error)".split(separator: " ").first.map(String.init) ?? "other")
        } else {
            key = "other"
        }
        errors[key, default: 0] += 1
        progress.countError()
        // Without an answer there is nothing to wait for: do not spin.
        if key == "transport" { try? await Task.sleep(for: .milliseconds(10)) }
    }

    mutating func add(_ other: BenchRecord) {
        cycles += other.cycles
        acquire.add(other.acquire)
        release.add(other.release)
        errors.merge(other.errors, uniquingKeysWith: +)
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(1, (duration.seconds * 1_000_000).rounded()))
    }
}
