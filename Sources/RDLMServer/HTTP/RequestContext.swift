import Logging
import NIOCore

/// What every connection's handler shares, built once; each handler holds one reference.
final class RequestContext: Sendable {
    let api: LockAPI
    let admission: Admission
    let configuration: ServerConfiguration
    let logger: Logger
    let sweepers: ConnectionSweepers

    init(service: any LockService, configuration: ServerConfiguration, metrics: ServerMetrics, events: LockEventHub, connections: @escaping @Sendable () -> Int, logger: Logger, sweepers: ConnectionSweepers) {
        self.api = LockAPI(service: service, limits: configuration.limits, metrics: metrics, events: events, connections: connections, logger: logger)
        self.admission = Admission(configuration: configuration, logger: logger)
        self.configuration = configuration
        self.logger = logger
        self.sweepers = sweepers
    }
}
