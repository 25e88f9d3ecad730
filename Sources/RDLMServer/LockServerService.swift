import Logging
import ServiceLifecycle

/// The daemon as a swift-service-lifecycle `Service`: serves until graceful shutdown is
/// requested (SIGTERM or SIGINT through the `ServiceGroup`), then stops the server cleanly.
public struct LockServerService: Service {
    public let configuration: ServerConfiguration
    public let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let server = try await LockServer.start(configuration: configuration, logger: logger)
        logger.info("rdlmd listening on http://\(configuration.host):\(server.port)")
        // Returns when shutdown is requested; throws if the group is cancelled instead.
        // Either way the server is stopped before this returns.
        try? await gracefulShutdown()
        logger.info("shutting down: answering waiters with 503 and closing connections")
        await server.shutdown()
        logger.info("stopped")
    }
}
