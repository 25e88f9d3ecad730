import Logging
import ServiceLifecycle
import UnixSignals

/// The daemon as a swift-service-lifecycle `Service`: serves until graceful shutdown is
/// requested (SIGTERM or SIGINT through the `ServiceGroup`), then stops the server cleanly.
/// SIGHUP re-reads what can change without a restart (`reload`: the admin file, the TLS
/// files); it never stops the daemon.
/// Under systemd (`Type=notify`), it says `READY=1` once the port answers and `STOPPING=1`
/// when shutdown begins.
public struct LockServerService: Service {
    public let configuration: ServerConfiguration
    public let logger: Logger
    /// Reads the admin setting again (`--admin-userpass-file`), on SIGHUP, with the warnings
    /// to log about it; nil: nothing to read.
    public let reloadAdminAuthentication: (@Sendable () throws -> AdminAuthentication.Loaded)?

    public init(configuration: ServerConfiguration, logger: Logger, reloadAdminAuthentication: (@Sendable () throws -> AdminAuthentication.Loaded)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.reloadAdminAuthentication = reloadAdminAuthentication
    }

    public func run() async throws {
        // Trapped before the port answers: a SIGHUP sent as soon as it does must not kill.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let server = try await LockServer.start(configuration: configuration, logger: logger)
        logger.info("rdlmd listening on \(configuration.tls == nil ? "http" : "https")://\(configuration.host):\(server.port)")
        let systemd = SystemdNotifier()
        systemd.ready(status: "listening on \(configuration.host):\(server.port)")
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in hangups {
                    reload(server)
                }
            }
            // Returns when shutdown is requested; throws if the group is cancelled instead.
            // Either way the server is stopped before this returns.
            try? await gracefulShutdown()
            group.cancelAll()
        }
        systemd.stopping()
        logger.info("shutting down: answering waiters with 503 and closing connections")
        await server.shutdown()
        logger.info("stopped")
    }

    /// A setting that cannot be read keeps the one in force: a typo in the file must not
    /// lock the operators out, nor let everyone in, and a bad certificate must not stop
    /// new connections.
    private func reload(_ server: LockServer) {
        guard reloadAdminAuthentication != nil || configuration.tls != nil else {
            logger.info("SIGHUP: nothing to reload")
            return
        }
        if let reloadAdminAuthentication {
            do {
                let loaded = try reloadAdminAuthentication()
                for warning in loaded.warnings { logger.warning("\(warning)") }
                server.replaceAdminAuthentication(loaded.admin)
                logger.notice("SIGHUP: admin credentials re-read")
            } catch {
                logger.error("SIGHUP: admin credentials not re-read, keeping the ones in force: \(error)")
            }
        }
        if configuration.tls != nil {
            do {
                try server.reloadTLS()
                logger.notice("SIGHUP: TLS certificate chain, private key and client CA re-read, for new connections")
            } catch {
                logger.error("SIGHUP: TLS files not re-read, keeping the ones in force: \(error)")
            }
        }
    }
}
