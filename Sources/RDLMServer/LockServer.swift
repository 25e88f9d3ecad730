import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import RDLMCore
import Synchronization

/// The running daemon: a listening socket, its event loops, and the lock service.
public final class LockServer: Sendable {
    public let configuration: ServerConfiguration
    /// The lock state the endpoints talk to: `local` or `etcd`.
    public let service: any LockService
    /// The in-memory (optionally journaled) service, unless the locks are in etcd.
    public let local: LocalLockService?
    /// The service on etcd (`--etcd-endpoints`).
    public let etcd: EtcdLockService?
    private let journal: Journal?
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// Let go of before the event loops stop: its deinit completes a promise on one of them.
    private let quiescing: Mutex<ServerQuiescingHelper?>
    private let logger: Logger
    private let housekeeping: [RepeatedTask]
    private let admission: Admission
    private let events: LockEventHub
    /// The context new TLS connections get; nil when serving plain HTTP.
    private let tls: TLSContextStore?

    /// The address actually bound (the port is known here when 0 was asked for).
    public var localAddress: SocketAddress? { channel.localAddress }
    /// The port actually bound.
    public var port: Int { channel.localAddress?.port ?? configuration.port }

    private init(configuration: ServerConfiguration, backend: Backend, journal: Journal?, group: MultiThreadedEventLoopGroup, channel: any Channel, quiescing: ServerQuiescingHelper, housekeeping: [RepeatedTask], admission: Admission, events: LockEventHub, tls: TLSContextStore?, logger: Logger) {
        self.configuration = configuration
        self.admission = admission
        self.events = events
        self.tls = tls
        switch backend {
        case .local(let local):
            self.service = local
            self.local = local
            self.etcd = nil
        case .etcd(let etcd):
            self.service = etcd
            self.local = nil
            self.etcd = etcd
        }
        self.journal = journal
        self.group = group
        self.channel = channel
        self.quiescing = Mutex(quiescing)
        self.housekeeping = housekeeping
        self.logger = logger
    }

    /// Restores persisted locks (with a data directory), binds and starts serving.
    /// - Parameter clock: the lock service's time; nil for real time on one of the loops.
    public static func start(configuration: ServerConfiguration, clock: (any LockClock)? = nil, logger: Logger) async throws -> LockServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let backendName = configuration.etcd != nil ? ServerMetrics.etcdBackend
            : configuration.persistence != nil ? ServerMetrics.dataDirectoryBackend : ServerMetrics.memoryBackend
        let metrics = ServerMetrics(backend: backendName)
        let events = LockEventHub(settings: configuration.events, loop: group.next())
        var journal: Journal?
        do {
            var holders: [LockInfo] = []
            var lastToken = FencingSeed.current()
            if let persistence = configuration.persistence {
                let restored = try restore(persistence, now: clock?.now ?? .now, metrics: metrics, logger: logger)
                journal = restored.journal
                holders = restored.holders
                lastToken = max(lastToken, restored.lastFencingToken)
            }
            let lockClock = clock ?? EventLoopClock(loop: group.next())
            let backend: Backend
            if let settings = configuration.etcd {
                let etcd = EtcdLockService(settings: settings, limits: configuration.limits.table, clock: lockClock, group: group, metrics: metrics, events: settings.events ? events : nil, logger: logger)
                // Serving before etcd answers is fine (acquires get 503 until it does), but a
                // daemon that starts with its cluster up should not answer 503 at first.
                if await !etcd.ready(within: settings.requestTimeout * 2) {
                    logger.warning("etcd not reachable yet at \(settings.endpoints.joined(separator: ",")); serving 503 until it is")
                }
                backend = .etcd(etcd)
            } else {
                backend = .local(LocalLockService(
                    limits: configuration.limits.table, lastFencingToken: lastToken, holders: holders,
                    journal: journal, metrics: metrics, events: events, clock: lockClock, logger: logger))
            }
            // Counts the open connections, for --max-connections and the memory reclaimer.
            let limiter = ConnectionLimiter(limit: configuration.maxConnections, logger: logger)
            let sweepers = ConnectionSweepers(group: group, interval: ConnectionSweeper.interval(for: configuration.limits))
            let shared = RequestContext(
                service: backend.service, configuration: configuration, metrics: metrics, events: events, connections: { limiter.count },
                logger: logger, sweepers: sweepers)
            let reclaimer = MemoryReclaimer(logger: logger, load: { limiter.count + backend.lockCount }, compact: { backend.compact() })
            let trimming = reclaimer.start(on: group.next())
            let quiescing = ServerQuiescingHelper(group: group)
            let bound: any Channel
            let tls: TLSContextStore?
            do {
                tls = try configuration.tls.map(TLSContextStore.init)
                bound = try await bind(configuration: configuration, shared: shared, tls: tls, limiter: limiter, quiescing: quiescing, group: group)
            } catch {
                sweepers.cancel()
                trimming.cancel()
                await shared.admission.logins.shutdown()
                throw error
            }
            var actual = configuration
            actual.port = bound.localAddress?.port ?? configuration.port
            return LockServer(
                configuration: actual, backend: backend, journal: journal, group: group, channel: bound,
                quiescing: quiescing, housekeeping: sweepers.tasks + [trimming], admission: shared.admission, events: events, tls: tls, logger: logger)
        } catch {
            journal?.close()
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Replays the data directory and starts a new journal generation from the result.
    /// - Parameter now: the lock service's time, which decides what expired while down.
    private static func restore(_ persistence: Persistence, now: ContinuousClock.Instant, metrics: ServerMetrics, logger: Logger) throws -> (holders: [LockInfo], lastFencingToken: FencingToken, journal: Journal) {
        let started = ContinuousClock.now
        let directory = try DataDirectory.open(persistence.directory)
        do {
            let wall = WallClock()
            let (recovered, generation) = try directory.recover(
                nowWallNanoseconds: wall.nanoseconds(now), truncateCorruption: persistence.truncateCorruption, logger: logger)
            let size = try directory.writeSnapshot(generation: generation, holders: recovered.holders, lastFencingToken: recovered.lastFencingToken)
            let journal = try Journal(directory: directory, generation: generation, snapshotSize: size, mode: persistence.fsync, metrics: metrics, logger: logger)
            logger.info("restored \(recovered.holders.count) locks from \(persistence.directory) (\(recovered.expiredWhileDown) expired while down) in \(ContinuousClock.now - started)")
            return (recovered.holders.map { $0.lockInfo(wall: wall) }, recovered.lastFencingToken, journal)
        } catch {
            directory.unlock()
            throw error
        }
    }

    private static func bind(configuration: ServerConfiguration, shared: RequestContext, tls: TLSContextStore?, limiter: ConnectionLimiter, quiescing: ServerQuiescingHelper, group: MultiThreadedEventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    // Collects the connections, to tell them to finish up at shutdown.
                    try pipeline.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                    try pipeline.addHandler(AcceptBackoff(limiter: limiter, logger: shared.logger))
                }
            }
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // What one connection can make the daemon hold, and how long it can keep its
            // event loop from the others: at most 2 reads of at most 16 KiB of requests per
            // turn of the loop, since nothing more is read while any of it waits (see
            // ConnectionHandler), and about 64 KiB of answers not yet taken by the client,
            // since nothing more is answered while the channel is not writable.
            .childChannelOption(.maxMessagesPerRead, value: 2)
            .childChannelOption(.writeBufferWaterMark, value: ChannelOptions.Types.WriteBufferWaterMark(low: 16_384, high: 65_536))
            // Parked waiters are idle connections: start their buffers small (see DESIGN.md).
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 16_384))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    guard limiter.admit(channel) else {
                        try pipeline.addHandler(ConnectionRefusal(refusal: limiter.refusal))
                        return
                    }
                    // The connection handler frames its own answers and holds pipelined
                    // requests back itself (see ConnectionHandler), so only NIO's request
                    // decoder is used.
                    let connection = ConnectionHandler(shared: shared)
                    if let tls {
                        try addTLSHandlers(tls, connection: connection, timeout: configuration.limits.requestTimeout.timeAmount, to: pipeline)
                    }
                    try pipeline.addHandler(RequestStartObserver(connection))
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try pipeline.addHandler(connection)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
    }

    /// Puts a re-read admin setting in force (SIGHUP) for the requests admitted from now
    /// on; requests already admitted, and connections, are not touched.
    public func replaceAdminAuthentication(_ admin: AdminAuthentication) {
        admission.replaceAdminAuthentication(admin)
    }

    /// Puts re-read TLS files in force (SIGHUP) for the connections accepted from now on;
    /// established connections keep their context. Throws, keeping the context in force,
    /// when the files cannot be read or used; does nothing when serving plain HTTP.
    public func reloadTLS() throws {
        try tls?.reload()
    }

    /// Admin password checks queued or running now.
    var passwordChecksUnderWay: Int { admission.logins.checks.count }

    /// How long requests in flight get to finish at shutdown before their connections are
    /// closed anyway.
    static let shutdownGracePeriod = TimeAmount.seconds(1)

    /// Stops gracefully: no new connections; idle connections closed; requests in flight
    /// finished (answered with `Connection: close`), parked waiters answered 503; then every
    /// connection closed and the event loops stopped.
    public func shutdown() async {
        let loop = group.next()
        let quiesced = loop.makePromise(of: Void.self)
        quiescing.withLock { helper in
            helper?.initiateShutdown(promise: quiesced)
            helper = nil
        }
        for task in housekeeping { task.cancel() }
        events.closeAll()
        service.shutdown()
        let deadline = loop.scheduleTask(in: Self.shutdownGracePeriod) {
            quiesced.fail(ChannelError.ioOnClosedChannel)
        }
        try? await quiesced.futureResult.get()
        deadline.cancel()
        try? await channel.close()
        // Answers still waiting for their changes to reach the disk go out before the
        // connections close.
        journal?.close()
        await etcd?.close()
        // Checks still under way are answered (503) on their loops, which still run.
        await admission.logins.shutdown()
        do {
            try await group.shutdownGracefully()
        } catch {
            logger.warning("event loops did not stop cleanly", metadata: ["error": "\(error)"])
        }
    }
}

/// Which service holds the locks.
private enum Backend: Sendable {
    case local(LocalLockService)
    case etcd(EtcdLockService)

    var service: any LockService {
        switch self {
        case .local(let local): return local
        case .etcd(let etcd): return etcd
        }
    }

    var lockCount: Int {
        switch self {
        case .local(let local): return local.lockCount
        case .etcd(let etcd): return etcd.lockCount
        }
    }

    func compact() {
        if case .local(let local) = self { local.compact() }
    }
}

/// Where fencing tokens start. Without persistence the table forgets its counter on
/// restart, so tokens are seeded from the wall clock in microseconds: a restarted daemon
/// starts above every token its predecessor granted, as long as that one granted fewer
/// than one token per microsecond on average since its own start (far above the measured
/// ceiling, docs/benchmarks.md). Stays below 2^53, so JavaScript clients read it exactly.
public enum FencingSeed {
    public static func current() -> FencingToken {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return FencingToken(spec.tv_sec) * 1_000_000 + FencingToken(spec.tv_nsec / 1_000)
    }
}

