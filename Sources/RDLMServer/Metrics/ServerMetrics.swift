import CoreMetrics
import Prometheus
import RDLMCore
import RDLMWire

/// The daemon's metrics, kept through swift-metrics in a Prometheus registry of this
/// server's own (never the process-wide `MetricsSystem`, so several servers in one process,
/// as in the tests, keep theirs apart), and written out by `GET /metrics`.
///
/// No label takes unbounded values: outcomes, endpoints and causes are fixed sets, and no
/// resource name, uid, title or client address is ever a label. Counters and histograms
/// are updated where things happen (a few atomic adds and one short lock per request);
/// the gauges are read from the lock service and the connection count at each scrape.
public final class ServerMetrics: Sendable {
    /// How an acquire ended, the `outcome` label of `rdlm_acquires_total`.
    enum AcquireResult: String, CaseIterable, Sendable {
        case grantedAtOnce = "granted_at_once"
        case grantedAfterWaiting = "granted_after_waiting"
        case waitTimedOut = "wait_timed_out"
        case deletedWhileWaiting = "deleted_while_waiting"
        /// Turned down with a 4xx: a malformed body, a per-client quota (429).
        case refusedClientError = "refused_client_error"
        /// Turned down with a 503: a limit of the server, the backend unavailable, shutdown.
        case refusedUnavailable = "refused_unavailable"
        /// The client left before its answer.
        case abandoned
    }

    /// Gauges read at each scrape.
    public struct Levels: Sendable {
        public var held: Int
        public var waiting: Int
        public var resources: Int

        public init(held: Int, waiting: Int, resources: Int) {
            self.held = held
            self.waiting = waiting
            self.resources = resources
        }
    }

    let registry = PrometheusCollectorRegistry()
    private let acquires: [AcquireResult: CoreMetrics.Counter]
    private let releases: CoreMetrics.Counter
    private let expiries: CoreMetrics.Counter
    private let refreshes: CoreMetrics.Counter
    private let adminDeletes: [Bool: CoreMetrics.Counter]
    private let waitTime: CoreMetrics.Timer
    private let heldTime: CoreMetrics.Timer
    private let requestTime: [Endpoint.MetricsLabel: CoreMetrics.Timer]
    /// With `--data-dir` only.
    let fsyncTime: CoreMetrics.Timer?
    /// With etcd only.
    let etcdRequestTime: CoreMetrics.Timer?
    private let heldGauge: CoreMetrics.Gauge
    private let waitingGauge: CoreMetrics.Gauge
    private let resourcesGauge: CoreMetrics.Gauge
    private let connectionsGauge: CoreMetrics.Gauge
    private let streamsGauge: CoreMetrics.Gauge
    private let streamDrops: CoreMetrics.Counter

    static let memoryBackend = "memory"
    static let dataDirectoryBackend = "data-dir"
    static let etcdBackend = "etcd"

    /// - Parameter backend: `memory`, `data-dir` or `etcd`, for `rdlm_build_info`; the
    ///   journal's fsync histogram exists with `data-dir` only, etcd's latency with `etcd`.
    public init(backend: String) {
        var factory = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
        let long: [Duration] = [.milliseconds(1), .milliseconds(10), .milliseconds(100), .seconds(1), .seconds(5), .seconds(10),
                                .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600), .seconds(21_600), .seconds(86_400)]
        factory.defaultDurationHistogramBuckets = fast
        factory.durationHistogramBuckets = ["rdlm_acquire_wait_seconds": long, "rdlm_lock_held_seconds": long]

        func counter(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
        }
        func timer(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Timer {
            CoreMetrics.Timer(label: name, dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory)
        }
        func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
            CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
        }
        acquires = Dictionary(uniqueKeysWithValues: AcquireResult.allCases.map {
            ($0, counter("rdlm_acquires_total", [("outcome", $0.rawValue)]))
        })
        releases = counter("rdlm_releases_total")
        expiries = counter("rdlm_expiries_total")
        refreshes = counter("rdlm_refreshes_total")
        adminDeletes = [false: counter("rdlm_admin_deletes_total", [("scope", "resource")]),
                        true: counter("rdlm_admin_deletes_total", [("scope", "all")])]
        waitTime = timer("rdlm_acquire_wait_seconds")
        heldTime = timer("rdlm_lock_held_seconds")
        requestTime = Dictionary(uniqueKeysWithValues: Endpoint.MetricsLabel.allCases.map {
            ($0, timer("rdlm_request_duration_seconds", [("endpoint", $0.rawValue)]))
        })
        fsyncTime = backend == Self.dataDirectoryBackend ? timer("rdlm_journal_fsync_seconds") : nil
        etcdRequestTime = backend == Self.etcdBackend ? timer("rdlm_etcd_request_duration_seconds") : nil
        heldGauge = gauge("rdlm_locks_held")
        waitingGauge = gauge("rdlm_requests_waiting")
        resourcesGauge = gauge("rdlm_resources")
        connectionsGauge = gauge("rdlm_open_connections")
        streamsGauge = gauge("rdlm_event_streams")
        streamDrops = counter("rdlm_event_stream_drops_total")
        gauge("rdlm_build_info", [("version", RDLMVersion.current), ("backend", backend)]).record(1)
    }

    // MARK: Recording

    func acquired(_ result: AcquireResult) {
        acquires[result]?.increment()
    }

    /// A granted acquire, `waited` from its arrival.
    func granted(afterWaiting: Bool, waited: Duration) {
        acquired(afterWaiting ? .grantedAfterWaiting : .grantedAtOnce)
        waitTime.recordInterval(waited)
    }

    func released() { releases.increment() }
    func refreshed() { refreshes.increment() }
    func adminDeleted(all: Bool) { adminDeletes[all]?.increment() }

    /// A hold that ended through this daemon: released, expired or deleted.
    func holdEnded(after heldFor: Duration, expired: Bool) {
        heldTime.recordInterval(heldFor)
        if expired { expiries.increment() }
    }

    /// An event stream whose client fell too far behind was closed.
    func streamDropped() { streamDrops.increment() }

    func answered(_ label: Endpoint.MetricsLabel, after duration: Duration) {
        requestTime[label]?.recordInterval(duration)
    }

    // MARK: Scraping

    /// The Prometheus text exposition, with the gauges read now.
    func exposition(levels: Levels, connections: Int, streams: Int) -> String {
        streamsGauge.record(streams)
        heldGauge.record(levels.held)
        waitingGauge.record(levels.waiting)
        resourcesGauge.record(levels.resources)
        connectionsGauge.record(connections)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16_384)
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

extension CoreMetrics.Timer {
    func recordInterval(_ duration: Duration) {
        recordNanoseconds(max(0, duration.nanoseconds))
    }
}

extension ServerMetrics {
    /// Counts how the service settled an acquire that arrived at `started`.
    func record(_ outcome: AcquireOutcome, since started: ContinuousClock.Instant) {
        switch outcome {
        case .granted(_, let afterWaiting): granted(afterWaiting: afterWaiting, waited: ContinuousClock.now - started)
        case .waitTimedOut: acquired(.waitTimedOut)
        case .deleted: acquired(.deletedWhileWaiting)
        case .refused(.tooManyForClient): acquired(.refusedClientError)
        case .refused, .shuttingDown: acquired(.refusedUnavailable)
        case .abandoned: acquired(.abandoned)
        }
    }
}
