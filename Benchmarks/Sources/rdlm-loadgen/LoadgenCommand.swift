import ArgumentParser
import NIOCore
import NIOPosix
import NIOSSL

@main
struct Loadgen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rdlm-loadgen",
        abstract: "Load generator of the rdlm benchmark suite: raw HTTP/1.1 keep-alive connections on SwiftNIO.",
        discussion: "Each subcommand prints one line of JSON. Benchmarks/run.sh drives them; see Benchmarks/README.md.",
        subcommands: [CyclesCommand.self, WaitersCommand.self, DeadlinesCommand.self, StartupCommand.self])
}

extension CycleMode: ExpressibleByArgument {}
extension LockProtocol: ExpressibleByArgument {}

struct CyclesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cycles",
        abstract: "Acquire (POST, 201) + release (DELETE, 204) cycles, or GET / requests, over N connections.",
        discussion: "With --protocol etcd-lock: etcd's own lock instead (a lease per connection, then /v3/lock/lock + /v3/lock/unlock, each 200), distinct or contended.")

    @Option(help: "The daemon, host:port; several (repeated or comma-separated) share the connections round-robin.")
    var target: [String]

    @Option(name: .customLong("protocol"), help: "rdlm | etcd-lock (etcd's lock API through its JSON gateway).")
    var lockProtocol: LockProtocol = .rdlm

    @Option(help: "distinct | contended | unique | get.")
    var mode: CycleMode = .distinct

    @Option(help: "Keep-alive connections.")
    var connections = 10

    @Option(help: "Event-loop threads of the generator (connections are spread over them).")
    var threads = 1

    @Option(help: "Seconds measured.")
    var duration: Double = 10

    @Option(help: "Seconds run before measuring (connections open, caches and JITs warm).")
    var warmup: Double = 1

    @Option(help: "Resource name prefix.")
    var prefix = "bench"

    @Option(help: "Lock lifetime sent, seconds (as written in the JSON body).")
    var lifetime = "60"

    @Option(help: "Wait sent, seconds.")
    var wait = "60"

    @Option(help: "Total cycles per second to pace at (0: as fast as answered).")
    var rate: Double = 0

    @Option(help: "Stop after this many cycles in all (0: no limit; the run then lasts warmup + duration).")
    var cycles = 0

    @Option(help: "Seconds after the end of the run at which connections still busy are cut.")
    var grace: Double = 30

    @Option(help: "HTTPS: trust the daemon's certificate if this PEM CA file signed it (its name is not checked: targets are addresses).")
    var cacert: String?

    func validate() throws {
        if lockProtocol == .etcdLock && !(mode == .distinct || mode == .contended) {
            throw ValidationError("--protocol etcd-lock runs --mode distinct or contended only")
        }
    }

    func run() async throws {
        let targets = try parseTargets(target)
        let threads = max(1, min(threads, connections))
        let start = now()
        let windowStart = start + UInt64(warmup * 1e9)
        let windowEnd = cycles > 0 ? UInt64.max / 2 : windowStart + UInt64(duration * 1e9)
        let settings = CycleSettings(
            mode: mode, lockProtocol: lockProtocol, targets: targets, prefix: prefix, lifetime: lifetime, wait: wait,
            windowStart: windowStart, windowEnd: windowEnd, stopAt: windowEnd,
            hardStop: cycles > 0 ? UInt64.max / 2 : windowEnd + UInt64(grace * 1e9),
            cyclesPerSecondPerConnection: rate > 0 ? rate / Double(connections) : nil,
            cycleBudget: nil, tls: try cacert.map(Self.tlsContext))
        let handoff = mode == .contended ? HandoffTracker() : nil
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var futures: [EventLoopFuture<CycleTally>] = []
        for shard in 0..<threads {
            let loop = group.next()
            let indices = Array(stride(from: shard, to: connections, by: threads))
            var shardSettings = settings
            if cycles > 0 {
                // Split the total: earlier shards take the remainder.
                shardSettings.cycleBudget = cycles / threads + (shard < cycles % threads ? 1 : 0)
            }
            let settingsForShard = shardSettings
            futures.append(loop.flatSubmit {
                let worker = CycleShard(loop: loop, settings: settingsForShard, connectionIndices: indices, handoff: handoff)
                worker.start()
                return worker.result
            })
        }
        var tally = CycleTally()
        for future in futures { tally.merge(try await future.get()) }
        let end = now()
        try await group.shutdownGracefully()
        let seconds = cycles > 0 ? Double(end - windowStart) / 1e9 : duration
        let handoffState = handoff?.state.withLock { $0 }
        let total = tally.cycles
        try emit(CyclesReport(
            mode: mode.rawValue, connections: connections, threads: threads, seconds: seconds.rounded(toPlaces: 3),
            cycles: total, cycles_per_s: (Double(total) / seconds).rounded(toPlaces: 1),
            gets: tally.gets, gets_per_s: (Double(tally.gets) / seconds).rounded(toPlaces: 1),
            requests_per_s: (Double(2 * total + tally.gets) / seconds).rounded(toPlaces: 1),
            acquire: tally.acquire.summary, release: tally.release.summary, get: tally.get.summary,
            handoff: handoffState?.handoffs.summary, handoff_from_release_answer: handoffState?.fromReleaseAnswer.summary,
            grants_before_release_answer: handoffState?.grantsBeforeReleaseAnswer,
            grants_without_waiting: handoffState?.grantsWithoutWaiting,
            statuses: tally.statuses.counts, unexpected: unexpected(tally.statuses.counts), targets: targets.count,
            dropped_connections: tally.droppedConnections, connect_failures: tally.connectFailures,
            cut_at_hard_stop: tally.cutAtHardStop))
    }

    private static func tlsContext(cacert: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(cacert)
        configuration.certificateVerification = .noHostnameVerification
        return try NIOSSLContext(configuration: configuration)
    }

    private func unexpected(_ counts: [String: UInt64]) -> UInt64 {
        let expected = lockProtocol == .rdlm ? ["GET 200", "POST 201", "DELETE 204"] : ["LEASE 200", "LOCK 200", "UNLOCK 200"]
        return counts.filter { !expected.contains($0.key) }.values.reduce(0, +)
    }
}

struct CyclesReport: Encodable {
    var mode: String
    var connections: Int
    var threads: Int
    var seconds: Double
    var cycles: UInt64
    var cycles_per_s: Double
    var gets: UInt64
    var gets_per_s: Double
    var requests_per_s: Double
    var acquire: LatencySummary
    var release: LatencySummary
    var get: LatencySummary
    var handoff: LatencySummary?
    var handoff_from_release_answer: LatencySummary?
    var grants_before_release_answer: UInt64?
    var grants_without_waiting: UInt64?
    var statuses: [String: UInt64]
    var unexpected: UInt64
    var targets: Int
    var dropped_connections: Int
    var connect_failures: Int
    var cut_at_hard_stop: Int
}
