import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// Scenario 3: N waiters parked one at a time, in a known order, behind one holder; the
/// daemon's RSS is read before, while they are parked, and after they have drained.
/// Draining is a chain: the holder releases, each waiter releases as soon as it is granted,
/// which grants the next. FIFO is checked by comparing the order of grants with the order
/// of the daemon's queue (GET /resources/NAME), and that with the order they were sent in.
struct WaitersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waiters",
        abstract: "Scenario 3: N blocked waiters on one resource; RSS per waiter, FIFO order, RSS after drain.")

    @Option(help: "The daemon, host:port.")
    var target: String

    @Option(help: "The daemon's process id (RSS is read from /proc/PID/status).")
    var pid: Int32

    @Option(help: "Waiters to park.")
    var count = 10_000

    @Option(help: "Resource name.")
    var resource = "waiters"

    @Option(help: "Microseconds between one waiter's request and the next connection, so they queue in order.")
    var gapMicros = 500

    @Option(help: "Seconds to let the daemon settle before each RSS reading.")
    var settle: Double = 1

    func run() async throws {
        let (host, port) = try parseTarget(target)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let count = count, resource = resource, gap = gapMicros
        let run = try await loop.submit {
            NIOLoopBound(WaiterRun(loop: loop, host: host, port: port, resource: resource, count: count, gapMicros: gap), eventLoop: loop)
        }.get()

        let holder = try await loop.flatSubmit { run.value.acquireHolder() }.get()
        guard holder.status == 201 else { throw LoadgenError("holder's acquire answered \(holder.status), not 201") }
        try await pause(settle)
        let before = residentKiB(pid: pid) ?? 0

        let parkStart = now()
        try await loop.flatSubmit { run.value.parkAll() }.get()
        var queue: [Int] = []
        let pollDeadline = now() + 120_000_000_000
        while now() < pollDeadline {
            let listing = try await loop.flatSubmit { run.value.listing() }.get()
            queue = try Self.waitingOrder(listing)
            if queue.count >= count { break }
            try await pause(0.2)
        }
        let parkSeconds = Double(now() - parkStart) / 1e9
        try await pause(settle)
        let parked = residentKiB(pid: pid) ?? 0

        let drainStart = now()
        let grants = try await loop.flatSubmit { run.value.drain() }.get()
        let drainSeconds = Double(now() - drainStart) / 1e9
        try await pause(settle)
        let drainedOpen = residentKiB(pid: pid) ?? 0
        try await loop.flatSubmit { run.value.closeAll() }.get()
        try await pause(settle)
        let after = residentKiB(pid: pid) ?? 0
        let statuses = try await loop.submit { run.value.statuses.counts }.get()
        let failures = try await loop.submit { run.value.failures }.get()
        try await group.shutdownGracefully()

        let fifoViolations = zip(grants, queue).filter { $0 != $1 }.count + abs(grants.count - queue.count)
        // Adjacent pairs the daemon queued in the opposite order from the one they were sent in.
        let sendOrderInversions = zip(queue, queue.dropFirst()).filter { $0 > $1 }.count
        try emit(WaitersReport(
            count: count, parked: queue.count, granted: grants.count,
            rss_before_kib: before, rss_parked_kib: parked, rss_drained_open_kib: drainedOpen, rss_after_kib: after,
            bytes_per_waiter: queue.isEmpty ? 0 : (Double(parked - before) * 1024 / Double(queue.count)).rounded(),
            after_vs_before: before == 0 ? 0 : (Double(after) / Double(before)).rounded(toPlaces: 3),
            park_seconds: parkSeconds.rounded(toPlaces: 3), drain_seconds: drainSeconds.rounded(toPlaces: 3),
            handoffs_per_s: (Double(grants.count) / drainSeconds).rounded(),
            fifo_violations: fifoViolations, queue_vs_send_order_inversions: sendOrderInversions,
            gap_us: gapMicros, failures: failures, statuses: statuses))
    }

    /// The waiters' indices (their titles are "wINDEX") in the daemon's queue order.
    static func waitingOrder(_ listing: ByteBuffer) throws -> [Int] {
        let data = Data(listing.readableBytesView)
        guard let document = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        let locks = (document["_embedded"] as? [String: Any])?["locks"] as? [[String: Any]] ?? []
        return locks.compactMap { lock -> Int? in
            guard (lock["active"] as? Bool) == false, let title = lock["title"] as? String, title.hasPrefix("w") else { return nil }
            return Int(title.dropFirst())
        }
    }
}

func pause(_ seconds: Double) async throws {
    try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
}

struct WaitersReport: Encodable {
    var count: Int
    var parked: Int
    var granted: Int
    var rss_before_kib: Int
    var rss_parked_kib: Int
    var rss_drained_open_kib: Int
    var rss_after_kib: Int
    var bytes_per_waiter: Double
    var after_vs_before: Double
    var park_seconds: Double
    var drain_seconds: Double
    var handoffs_per_s: Double
    var fifo_violations: Int
    var queue_vs_send_order_inversions: Int
    var gap_us: Int
    var failures: Int
    var statuses: [String: UInt64]
}

/// The connections of the waiters scenario, all on one event loop.
final class WaiterRun {
    private let loop: any EventLoop
    private let host: String
    private let port: Int
    private let hostHeader: String
    private let resource: String
    private let count: Int
    private let gapMicros: Int
    private let allocator = ByteBufferAllocator()
    private var holder = Connection(index: -1)
    private var holderPath: String?
    private var waiters: [Connection] = []
    private var grantOrder: [Int] = []
    private var finishedWaiters = 0
    private var drained: EventLoopPromise<[Int]>?
    private(set) var statuses = StatusCounts()
    private(set) var failures = 0

    private enum Phase: Int { case waiting = 0, releasing, done }

    init(loop: any EventLoop, host: String, port: Int, resource: String, count: Int, gapMicros: Int) {
        self.loop = loop
        self.host = host
        self.port = port
        self.hostHeader = "\(host):\(port)"
        self.resource = resource
        self.count = count
        self.gapMicros = gapMicros
        grantOrder.reserveCapacity(count)
        waiters.reserveCapacity(count)
    }

    func acquireHolder() -> EventLoopFuture<Answer> {
        let promise = loop.makePromise(of: Answer.self)
        holder.collectsBodies = true
        loop.connect(holder, host: host, port: port) { [self] result in
            switch result {
            case .failure(let error): promise.fail(error)
            case .success:
                holder.send(.acquire(resource, title: "holder", lifetime: "3600", wait: "0", host: hostHeader, allocator: allocator)) { [self] answer in
                    holderPath = answer.location
                    promise.succeed(answer)
                }
            }
        }
        return promise.futureResult
    }

    /// Connects and parks the waiters one at a time: each request is written, then the next
    /// connection waits `gapMicros`, so the daemon sees them in index order.
    func parkAll() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        parkNext(0, promise)
        return promise.futureResult
    }

    private func parkNext(_ index: Int, _ promise: EventLoopPromise<Void>) {
        guard index < count else {
            promise.succeed(())
            return
        }
        let connection = Connection(index: index)
        waiters.append(connection)
        loop.connect(connection, host: host, port: port) { [self] result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success:
                connection.onAnswer = { [unowned self] in waiterAnswered($0, $1) }
                connection.onClose = { [unowned self] in waiterClosed($0) }
                connection.send(.acquire(resource, title: "w\(index)", lifetime: "3600", wait: "3000", host: hostHeader, allocator: allocator))
                if gapMicros > 0 {
                    loop.assumeIsolated().scheduleTask(in: .microseconds(Int64(gapMicros))) { [self] in parkNext(index + 1, promise) }
                } else {
                    parkNext(index + 1, promise)
                }
            }
        }
    }

    func listing() -> EventLoopFuture<ByteBuffer> {
        let promise = loop.makePromise(of: ByteBuffer.self)
        holder.send(.bodiless("GET", "/resources/\(resource)", host: hostHeader)) { answer in
            promise.succeed(answer.body ?? ByteBuffer())
        }
        return promise.futureResult
    }

    /// Releases the holder's lock; completes when every waiter was granted and released.
    func drain() -> EventLoopFuture<[Int]> {
        let promise = loop.makePromise(of: [Int].self)
        drained = promise
        guard let holderPath else {
            promise.fail(LoadgenError("no holder lock to release"))
            return promise.futureResult
        }
        holder.send(.bodiless("DELETE", holderPath, host: hostHeader)) { [self] answer in
            statuses.add("DELETE", answer.status)
        }
        finishIfDrained()
        return promise.futureResult
    }

    private func waiterAnswered(_ connection: Connection, _ answer: Answer) {
        switch Phase(rawValue: connection.scratch) {
        case .waiting:
            statuses.add("POST", answer.status)
            guard answer.status == 201, let path = answer.location else {
                failures += 1
                waiterFinished(connection)
                return
            }
            grantOrder.append(connection.index)
            connection.scratch = Phase.releasing.rawValue
            connection.send(.bodiless("DELETE", path, host: hostHeader))
        case .releasing:
            statuses.add("DELETE", answer.status)
            if answer.status != 204 { failures += 1 }
            waiterFinished(connection)
        case .done, nil:
            break
        }
    }

    private func waiterClosed(_ connection: Connection) {
        guard connection.scratch != Phase.done.rawValue else { return }
        failures += 1
        waiterFinished(connection)
    }

    private func waiterFinished(_ connection: Connection) {
        connection.scratch = Phase.done.rawValue
        finishedWaiters += 1
        finishIfDrained()
    }

    private func finishIfDrained() {
        if finishedWaiters == waiters.count, let drained {
            self.drained = nil
            drained.succeed(grantOrder)
        }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let closes = (waiters + [holder]).compactMap { $0.context?.channel.close() }
        return EventLoopFuture.whenAllComplete(closes, on: loop).map { _ in () }
    }
}
