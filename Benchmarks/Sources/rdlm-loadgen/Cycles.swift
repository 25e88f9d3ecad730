import NIOCore
import NIOSSL
import Synchronization

/// What the connections of a `cycles` run do.
enum CycleMode: String, Sendable, CaseIterable {
    /// Each connection loops acquire/release on a resource of its own.
    case distinct
    /// All connections loop acquire/release on one resource; grants are handoffs.
    case contended
    /// Each cycle locks a resource never used before (scenario 5).
    case unique
    /// `GET /` in a loop: the HTTP reference rate.
    case get
}

/// Whose lock API a `cycles` run drives.
enum LockProtocol: String, Sendable, CaseIterable {
    /// rdlm's: `POST /locks/NAME` (201, Location), `DELETE` that location (204).
    case rdlm
    /// etcd's own lock through its JSON gateway: a lease per connection, then
    /// `POST /v3/lock/lock` (200, a key) and `POST /v3/lock/unlock` of that key (200).
    case etcdLock = "etcd-lock"
}

struct CycleSettings: Sendable {
    var mode: CycleMode
    var lockProtocol: LockProtocol = .rdlm
    /// Connections are spread over these round-robin, by their index in the run.
    var targets: [Target]
    var prefix: String
    var lifetime: String
    var wait: String
    /// Only answers received in [windowStart, windowEnd) are counted and timed.
    var windowStart: UInt64
    var windowEnd: UInt64
    /// No new cycle starts at or after this time (normally windowEnd).
    var stopAt: UInt64
    /// Connections still open at this time are closed.
    var hardStop: UInt64
    /// Paces each connection to this many cycles per second (nil: as fast as answered).
    var cyclesPerSecondPerConnection: Double?
    /// Stops each shard after this many cycles have started (nil: no limit).
    var cycleBudget: Int?
    /// HTTPS with this context (`--cacert`); nil: plain HTTP.
    var tls: NIOSSLContext? = nil
}

/// The counts and latencies of one shard (one event loop), merged across shards.
struct CycleTally: Sendable {
    var cycles: UInt64 = 0
    var gets: UInt64 = 0
    var cyclesOutsideWindow: UInt64 = 0
    var acquire = Latencies()
    var release = Latencies()
    var get = Latencies()
    var statuses = StatusCounts()
    /// Connections the server closed, or that failed, before the run ended.
    var droppedConnections = 0
    var connectFailures = 0
    /// Connections still busy at the hard stop (e.g. waiters never granted).
    var cutAtHardStop = 0

    mutating func merge(_ other: CycleTally) {
        cycles += other.cycles
        gets += other.gets
        cyclesOutsideWindow += other.cyclesOutsideWindow
        acquire.merge(other.acquire)
        release.merge(other.release)
        get.merge(other.get)
        statuses.merge(other.statuses)
        droppedConnections += other.droppedConnections
        connectFailures += other.connectFailures
        cutAtHardStop += other.cutAtHardStop
    }
}

/// Handoff latency on one contended resource, from the generator's clock.
///
/// Grants on one exclusive resource are serial: grant k+1 can only follow the server's
/// receipt of release k. For a grant whose acquire was sent before the preceding release
/// was sent (the acquirer was queued or on its way when the holder let go), the handoff
/// latency is the time from sending that release (DELETE) to receiving the grant (201).
/// Grants whose acquire was sent after the release are not handoffs and are not timed.
/// `fromReleaseAnswer` is the same grant timed from the release's 204 instead, when the 204
/// arrived first (it often does not: the server answers both at once).
final class HandoffTracker: Sendable {
    struct State {
        var lastReleaseSentAt: UInt64?
        var lastReleaseAnsweredAt: UInt64 = 0
        var handoffs = Latencies()
        var fromReleaseAnswer = Latencies()
        var grantsBeforeReleaseAnswer: UInt64 = 0
        var grantsWithoutWaiting: UInt64 = 0
    }

    let state = Mutex(State())

    func releaseSent(at time: UInt64) {
        state.withLock { $0.lastReleaseSentAt = time }
    }

    func releaseAnswered(at time: UInt64) {
        state.withLock { $0.lastReleaseAnsweredAt = time }
    }

    func granted(at time: UInt64, acquireSentAt: UInt64, counted: Bool) {
        state.withLock { state in
            guard let release = state.lastReleaseSentAt else {
                if counted { state.grantsWithoutWaiting += 1 }
                return
            }
            state.lastReleaseSentAt = nil
            guard acquireSentAt < release else {
                if counted { state.grantsWithoutWaiting += 1 }
                return
            }
            guard counted else { return }
            state.handoffs.record(time &- release)
            if state.lastReleaseAnsweredAt > release {
                state.fromReleaseAnswer.record(time &- state.lastReleaseAnsweredAt)
            } else {
                state.grantsBeforeReleaseAnswer += 1
            }
        }
    }
}

/// The connections of one event loop in a `cycles` run.
final class CycleShard {
    /// What a connection's request in flight is: rdlm's acquire/release or `GET /`, or
    /// etcd's lease grant (once per connection), lock and unlock.
    private enum Pending { case acquire, release, get, lease, lock, unlock }

    private let loop: any EventLoop
    private let settings: CycleSettings
    private let handoff: HandoffTracker?
    private let connectionIndices: [Int]
    private var connections: [Connection] = []
    private var pending: [Pending] = []
    private var acquires: [PreparedRequest] = []
    private var nextStart: [UInt64] = []
    private var uniqueCounter: [Int] = []
    private var getRequest: PreparedRequest
    private var budget: Int
    private var stopRequested = false
    private var tally = CycleTally()
    private var settled = 0
    private var open = 0
    private let finished: EventLoopPromise<CycleTally>
    /// Per connection slot: the Host header of its target.
    private var hostHeaders: [String] = []
    /// The request that starts a cycle: `.acquire` (rdlm) or `.lock` (etcd).
    private let firstStep: Pending
    private let allocator = ByteBufferAllocator()

    init(loop: any EventLoop, settings: CycleSettings, connectionIndices: [Int], handoff: HandoffTracker?) {
        self.loop = loop
        self.settings = settings
        self.handoff = handoff
        self.connectionIndices = connectionIndices
        self.getRequest = .bodiless("GET", "/", host: settings.targets[0].authority)
        self.firstStep = settings.lockProtocol == .rdlm ? .acquire : .lock
        self.budget = settings.cycleBudget ?? .max
        self.finished = loop.makePromise()
    }

    var result: EventLoopFuture<CycleTally> { finished.futureResult }

    func start() {
        let startTime = now()
        for (slot, index) in connectionIndices.enumerated() {
            let connection = Connection(index: slot)
            let target = settings.targets[index % settings.targets.count]
            connections.append(connection)
            hostHeaders.append(target.authority)
            pending.append(.get)
            uniqueCounter.append(0)
            acquires.append(acquireRequest(slot: slot, globalIndex: index))
            // Paced connections start spread over one interval, not all at once.
            let interval = settings.cyclesPerSecondPerConnection.map { 1e9 / $0 } ?? 0
            nextStart.append(startTime + UInt64(interval * Double(slot) / Double(max(1, connectionIndices.count))))
            loop.connect(connection, host: target.host, port: target.port, tls: settings.tls) { [self] result in
                settled += 1
                switch result {
                case .success:
                    open += 1
                    connection.onAnswer = { [unowned self] in answered($0, $1) }
                    connection.onClose = { [unowned self] in closed($0) }
                    if settings.lockProtocol == .etcdLock {
                        // The lock's key is named after a lease: one per connection, first.
                        connection.collectsBodies = true
                        pending[slot] = .lease
                        connection.send(.etcdLeaseGrant(ttl: 60, host: hostHeaders[slot], allocator: allocator))
                    } else {
                        begin(connection)
                    }
                case .failure:
                    tally.connectFailures += 1
                    finishIfDone()
                }
            }
        }
        let hardStop = NIODeadline.uptimeNanoseconds(settings.hardStop)
        loop.assumeIsolated().scheduleTask(deadline: hardStop) { [self] in
            for connection in connections where connection.isOpen {
                tally.cutAtHardStop += 1
                connection.scratch = 1
                connection.close()
            }
        }
    }

    /// Lets each connection finish its current cycle, then closes it.
    func stop() {
        stopRequested = true
        for connection in connections where connection.isOpen && !connection.inFlight {
            connection.scratch = 1
            connection.close()
        }
    }

    private func resource(slot: Int, globalIndex: Int) -> String {
        switch settings.mode {
        case .contended: settings.prefix
        case .unique: "\(settings.prefix)\(globalIndex)x\(uniqueCounter[slot])"
        case .distinct, .get: "\(settings.prefix)\(globalIndex)"
        }
    }

    /// rdlm's acquire; an etcd lock's is made once the connection's lease is granted.
    private func acquireRequest(slot: Int, globalIndex: Int) -> PreparedRequest {
        .acquire(resource(slot: slot, globalIndex: globalIndex), title: "bench \(globalIndex)", lifetime: settings.lifetime,
                 wait: settings.wait, host: hostHeaders[slot], allocator: allocator)
    }

    /// Starts the connection's next cycle (or GET), or closes it when the run is over.
    private func begin(_ connection: Connection) {
        let time = now()
        guard time < settings.stopAt, budget > 0, !stopRequested else {
            connection.scratch = 1  // closed on purpose
            connection.close()
            return
        }
        budget -= 1
        if let rate = settings.cyclesPerSecondPerConnection {
            let due = nextStart[connection.index]
            nextStart[connection.index] = max(due, time &- UInt64(1e9 / rate)) + UInt64(1e9 / rate)
            if due > time + 20_000 {
                loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(due)) { [self] in fire(connection) }
                return
            }
        }
        fire(connection)
    }

    private func fire(_ connection: Connection) {
        guard connection.isOpen else { return }
        let slot = connection.index
        switch settings.mode {
        case .get:
            pending[slot] = .get
            connection.send(getRequest)
        case .unique:
            uniqueCounter[slot] += 1
            acquires[slot] = acquireRequest(slot: slot, globalIndex: connectionIndices[slot])
            fallthrough
        case .distinct, .contended:
            pending[slot] = firstStep
            connection.postSentAt = connection.send(acquires[slot])
        }
    }

    private func answered(_ connection: Connection, _ answer: Answer) {
        let counted = answer.receivedAt >= settings.windowStart && answer.receivedAt < settings.windowEnd
        let slot = connection.index
        switch pending[slot] {
        case .get:
            tally.statuses.add("GET", answer.status)
            if counted {
                tally.gets += 1
                tally.get.record(answer.latency)
            }
            begin(connection)
        case .acquire:
            tally.statuses.add("POST", answer.status)
            if counted { tally.acquire.record(answer.latency) }
            guard answer.status == 201, let path = answer.location else {
                begin(connection)
                return
            }
            handoff?.granted(at: answer.receivedAt, acquireSentAt: connection.postSentAt, counted: counted)
            pending[slot] = .release
            let sentAt = connection.send(.bodiless("DELETE", path, host: hostHeaders[slot]))
            handoff?.releaseSent(at: sentAt)
        case .release:
            tally.statuses.add("DELETE", answer.status)
            released(connection, answer, counted: counted, success: 204)
        case .lease:
            tally.statuses.add("LEASE", answer.status)
            guard answer.status == 200, let body = answer.body, let lease = EtcdGatewayJSON.string("ID", in: body) else {
                connection.close()  // counted as a dropped connection: the run is broken
                return
            }
            acquires[slot] = .etcdLock(resource(slot: slot, globalIndex: connectionIndices[slot]), lease: lease,
                                       host: hostHeaders[slot], allocator: allocator)
            begin(connection)
        case .lock:
            tally.statuses.add("LOCK", answer.status)
            if counted { tally.acquire.record(answer.latency) }
            guard answer.status == 200, let body = answer.body, let key = EtcdGatewayJSON.string("key", in: body) else {
                begin(connection)
                return
            }
            handoff?.granted(at: answer.receivedAt, acquireSentAt: connection.postSentAt, counted: counted)
            pending[slot] = .unlock
            let sentAt = connection.send(.etcdUnlock(key: key, host: hostHeaders[slot], allocator: allocator))
            handoff?.releaseSent(at: sentAt)
        case .unlock:
            tally.statuses.add("UNLOCK", answer.status)
            released(connection, answer, counted: counted, success: 200)
        }
    }

    /// A release (rdlm's DELETE or etcd's unlock) was answered: the cycle ends.
    @inline(__always)
    private func released(_ connection: Connection, _ answer: Answer, counted: Bool, success: Int) {
        handoff?.releaseAnswered(at: answer.receivedAt)
        if counted {
            tally.release.record(answer.latency)
            if answer.status == success { tally.cycles += 1 }
        } else {
            tally.cyclesOutsideWindow += 1
        }
        begin(connection)
    }

    private func closed(_ connection: Connection) {
        open -= 1
        if connection.scratch != 1 { tally.droppedConnections += 1 }
        finishIfDone()
    }

    private func finishIfDone() {
        if settled == connectionIndices.count && open == 0 {
            finished.succeed(tally)
        }
    }
}
