import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// Scenario 4: how late lifetime expiries and wait timeouts fire, seen from the client.
///
/// Each slot (a holder connection and a waiter connection) runs trials one after another,
/// each on a fresh resource, with deadlines drawn at random so they do not fire together:
/// - expiry: the holder acquires with lifetime L and never releases; the waiter then asks
///   with a long wait and is granted when the holder's lock expires. Lateness = arrival of
///   the waiter's 201 − (the holder's acquire send time + L).
/// - timeout: the holder acquires for long; the waiter asks with wait W and gets 408.
///   Lateness = arrival of the 408 − (the waiter's acquire send time + W).
/// Both ideal times are taken at the client's send, before the daemon could start the
/// clock, so the lateness includes a request's trip and is an upper bound on the daemon's.
/// Background cycles at a fixed rate on another event loop provide the "moderate load".
struct DeadlinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadlines",
        abstract: "Scenario 4: lateness of lifetime expiries and wait timeouts under a paced background load.")

    @Option(help: "The daemon, host:port.")
    var target: String

    @Option(help: "Lifetime expiries to observe.")
    var expiries = 1_000

    @Option(help: "Wait timeouts to observe.")
    var timeouts = 1_000

    @Option(help: "Concurrent holder+waiter pairs.")
    var slots = 100

    @Option(help: "Shortest deadline drawn, milliseconds.")
    var minMillis = 50

    @Option(help: "Longest deadline drawn, milliseconds.")
    var maxMillis = 400

    @Option(help: "Background load: acquire/release cycles per second (0: none).")
    var backgroundRate: Double = 5_000

    @Option(help: "Background load: connections, each on its own resource.")
    var backgroundConnections = 10

    func run() async throws {
        let (host, port) = try parseTarget(target)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let trialLoop = group.next()
        let backgroundLoop = group.next()

        var background: EventLoopFuture<CycleTally>?
        var backgroundShard: NIOLoopBound<CycleShard>?
        let backgroundStart = now()
        if backgroundRate > 0 && backgroundConnections > 0 {
            let settings = CycleSettings(
                mode: .distinct, targets: [Target(host: host, port: port)], prefix: "background", lifetime: "60", wait: "60",
                windowStart: backgroundStart, windowEnd: .max / 2, stopAt: .max / 2, hardStop: .max / 2,
                cyclesPerSecondPerConnection: backgroundRate / Double(backgroundConnections), cycleBudget: nil)
            let connections = backgroundConnections
            let bound = try await backgroundLoop.submit {
                let shard = CycleShard(loop: backgroundLoop, settings: settings, connectionIndices: Array(0..<connections), handoff: nil)
                shard.start()
                return NIOLoopBound(shard, eventLoop: backgroundLoop)
            }.get()
            backgroundShard = bound
            background = try await backgroundLoop.submit { bound.value.result }.get()
            try await pause(0.5)
        }

        let expiries = expiries, timeouts = timeouts, slots = slots, range = minMillis...maxMillis
        let outcome = try await trialLoop.flatSubmit {
            let run = DeadlineRun(loop: trialLoop, host: host, port: port, expiries: expiries, timeouts: timeouts, slots: slots, millis: range)
            return run.start()
        }.get()

        var backgroundTally = CycleTally()
        if let backgroundShard, let background {
            backgroundLoop.execute { backgroundShard.value.stop() }
            backgroundTally = try await background.get()
        }
        let backgroundSeconds = Double(now() - backgroundStart) / 1e9
        try await group.shutdownGracefully()
        try emit(DeadlinesReport(
            expiries: outcome.expiry.summary, timeouts: outcome.timeout.summary, generator_timers: outcome.control.summary,
            expiries_early: outcome.expiriesEarly, timeouts_early: outcome.timeoutsEarly,
            slots: slots, deadline_ms_range: [minMillis, maxMillis],
            background_cycles_per_s: (Double(backgroundTally.cycles) / backgroundSeconds).rounded(),
            failures: outcome.failures, statuses: outcome.statuses.counts.merging(backgroundTally.statuses.counts, uniquingKeysWith: +)))
    }
}

struct DeadlinesReport: Encodable {
    var expiries: LatencySummary
    var timeouts: LatencySummary
    /// Lateness of the generator's own timers over the same period (see DeadlineRun).
    var generator_timers: LatencySummary
    /// Observations before the client-side ideal time (would mean a deadline fired early).
    var expiries_early: Int
    var timeouts_early: Int
    var slots: Int
    var deadline_ms_range: [Int]
    var background_cycles_per_s: Double
    var failures: Int
    var statuses: [String: UInt64]
}

struct DeadlineOutcome: Sendable {
    var expiry = Latencies()
    var timeout = Latencies()
    /// The generator's own timers (same deadlines, same event loop): the machine's noise floor.
    var control = Latencies()
    var expiriesEarly = 0
    var timeoutsEarly = 0
    var failures = 0
    var statuses = StatusCounts()
}

final class DeadlineRun {
    private let loop: any EventLoop
    private let host: String
    private let port: Int
    private let hostHeader: String
    private let slots: Int
    private let millis: ClosedRange<Int>
    private let allocator = ByteBufferAllocator()
    private var expiriesToStart: Int
    private var timeoutsToStart: Int
    private var trialCounter = 0
    private var openSlots = 0
    private var outcome = DeadlineOutcome()
    private let finished: EventLoopPromise<DeadlineOutcome>
    private var connections: [Connection] = []
    private var controlRunning = true

    init(loop: any EventLoop, host: String, port: Int, expiries: Int, timeouts: Int, slots: Int, millis: ClosedRange<Int>) {
        self.loop = loop
        self.host = host
        self.port = port
        self.hostHeader = "\(host):\(port)"
        self.expiriesToStart = expiries
        self.timeoutsToStart = timeouts
        self.slots = slots
        self.millis = millis
        self.finished = loop.makePromise()
    }

    func start() -> EventLoopFuture<DeadlineOutcome> {
        openSlots = slots
        for slot in 0..<slots {
            let holder = Connection(index: 2 * slot)
            let waiter = Connection(index: 2 * slot + 1)
            connections += [holder, waiter]
            loop.connect(holder, host: host, port: port) { [self] first in
                loop.connect(waiter, host: host, port: port) { [self] second in
                    guard case .success = first, case .success = second else {
                        outcome.failures += 1
                        slotDone()
                        return
                    }
                    // Stagger the slots' first trials over the deadline range.
                    let delay = Int64.random(in: 0...Int64(millis.upperBound))
                    loop.assumeIsolated().scheduleTask(in: .milliseconds(delay)) { [self] in nextTrial(holder, waiter) }
                }
            }
        }
        scheduleControlTimer()
        return finished.futureResult
    }

    /// Every 5 ms, a timer of the generator's own with a deadline drawn like the trials':
    /// how late it fires is how late this process sees time pass, whatever the daemon does.
    private func scheduleControlTimer() {
        guard controlRunning else { return }
        let due = now() + UInt64(Int.random(in: millis)) * 1_000_000
        loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(due)) { [self] in
            guard controlRunning else { return }
            outcome.control.record(signed: Int64(bitPattern: now() &- due))
        }
        loop.assumeIsolated().scheduleTask(in: .milliseconds(5)) { [self] in scheduleControlTimer() }
    }

    private func slotDone() {
        openSlots -= 1
        if openSlots == 0 {
            controlRunning = false
            for connection in connections { connection.close() }
            finished.succeed(outcome)
        }
    }

    private func nextTrial(_ holder: Connection, _ waiter: Connection) {
        trialCounter += 1
        let resource = "deadline\(trialCounter)"
        let ms = Int.random(in: millis)
        let seconds = String(format: "%d.%03d", ms / 1000, ms % 1000)
        let wantExpiry = expiriesToStart > 0 && (timeoutsToStart == 0 || trialCounter % 2 == 0)
        if wantExpiry {
            expiriesToStart -= 1
            expiryTrial(resource, lifetime: seconds, nanoseconds: UInt64(ms) * 1_000_000, holder, waiter)
        } else if timeoutsToStart > 0 {
            timeoutsToStart -= 1
            timeoutTrial(resource, wait: seconds, nanoseconds: UInt64(ms) * 1_000_000, holder, waiter)
        } else {
            slotDone()
        }
    }

    private func expiryTrial(_ resource: String, lifetime: String, nanoseconds: UInt64, _ holder: Connection, _ waiter: Connection) {
        holder.send(.acquire(resource, title: "expiring holder", lifetime: lifetime, wait: "0", host: hostHeader, allocator: allocator)) { [self] held in
            outcome.statuses.add("POST", held.status)
            guard held.status == 201 else { return failed(holder, waiter) }
            waiter.send(.acquire(resource, title: "waiter", lifetime: "10", wait: "30", host: hostHeader, allocator: allocator)) { [self] granted in
                outcome.statuses.add("POST", granted.status)
                guard granted.status == 201, let path = granted.location else { return failed(holder, waiter) }
                let lateness = Int64(bitPattern: granted.receivedAt &- (held.sentAt + nanoseconds))
                if lateness < 0 { outcome.expiriesEarly += 1 }
                outcome.expiry.record(signed: lateness)
                waiter.send(.bodiless("DELETE", path, host: hostHeader)) { [self] released in
                    outcome.statuses.add("DELETE", released.status)
                    nextTrial(holder, waiter)
                }
            }
        }
    }

    private func timeoutTrial(_ resource: String, wait: String, nanoseconds: UInt64, _ holder: Connection, _ waiter: Connection) {
        holder.send(.acquire(resource, title: "holder", lifetime: "60", wait: "0", host: hostHeader, allocator: allocator)) { [self] held in
            outcome.statuses.add("POST", held.status)
            guard held.status == 201, let holderPath = held.location else { return failed(holder, waiter) }
            waiter.send(.acquire(resource, title: "timing out waiter", lifetime: "10", wait: wait, host: hostHeader, allocator: allocator)) { [self] timedOut in
                outcome.statuses.add("POST", timedOut.status)
                if timedOut.status == 408 {
                    let lateness = Int64(bitPattern: timedOut.receivedAt &- (timedOut.sentAt + nanoseconds))
                    if lateness < 0 { outcome.timeoutsEarly += 1 }
                    outcome.timeout.record(signed: lateness)
                } else {
                    outcome.failures += 1
                }
                holder.send(.bodiless("DELETE", holderPath, host: hostHeader)) { [self] released in
                    outcome.statuses.add("DELETE", released.status)
                    nextTrial(holder, waiter)
                }
            }
        }
    }

    private func failed(_ holder: Connection, _ waiter: Connection) {
        outcome.failures += 1
        // Give the slot a moment (a failure is usually a daemon in trouble), then go on.
        loop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { [self] in nextTrial(holder, waiter) }
    }
}
