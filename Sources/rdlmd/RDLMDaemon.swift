import ArgumentParser
import Logging
import RDLMCore
import RDLMServer
import ServiceLifecycle
import NIOCore

@main
struct RDLMDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rdlmd",
        abstract: "The rdlm lock daemon: distributed locks over plain HTTP.",
        discussion: """
            Speaks the wire protocol of the original RDLM (POST /locks/NAME to acquire, DELETE \
            the returned URL to release) with fencing tokens, lease refresh, shared locks and \
            precise timers. SIGTERM or SIGINT stops it gracefully: waiters get 503. SIGHUP \
            re-reads the admin userpass file and the TLS files (for new connections). GET \
            /openapi.yaml returns the API as an OpenAPI 3.1 document (no credentials needed); \
            GET /health and GET /ready are the liveness and readiness probes.

            Open http://HOST:PORT/ui in a browser for the admin page: every lock, live, with \
            deletes. It follows --admin-userpass-file (with a file the browser asks for an \
            admin's credentials; with 'no' the page says admin requests are disabled).

            Example:
              rdlmd --port 8888 --admin-userpass-file /etc/rdlm/admins
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8888

    @Option(
        name: [.customLong("admin-userpass-file"), .customLong("admin_userpass_file")],
        help: ArgumentHelp(
            "Admin requests (/resources): 'yes' needs no credentials, 'no' refuses them (403), a file path requires HTTP Basic credentials matching one of its lines: user:HASH, a crypt(3) hash checked with libxcrypt (bcrypt from htpasswd -nB USER; yescrypt or SHA-512 from mkpasswd -m yescrypt), or user:password in plain text (a warning at start-up). Successful hash checks are remembered for 60 s.",
            valueName: "yes|no|path"))
    var adminUserpassFile = "yes"

    @Option(help: ArgumentHelp("With a userpass file: failed admin logins allowed per client address within 60 s; more get 429 (with Retry-After) until the 60 s are over, and no password is checked meanwhile. Behind a reverse proxy every client has the proxy's address.", valueName: "count"))
    var adminLoginFailures = LoginFailures.defaultLimit

    @Option(help: "Log level: trace, debug (one line per lock state change), info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: ArgumentHelp("Log lines on standard error: 'text' for people, 'json' (one JSON object per line: time, level, label, source, message, metadata) for log shippers.", valueName: "text|json"))
    var logFormat: LogFormat = .text

    @Option(help: "Longest lock lifetime a client may ask for, in seconds.")
    var maxLifetime: Double = 86_400

    @Option(help: "Longest wait a client may ask for, in seconds.")
    var maxWait: Double = 3_600

    @Option(help: "Largest request body in bytes; larger ones get 413.")
    var maxBodyBytes = 8_192

    @Option(help: "Longest lock title in bytes.")
    var maxTitleBytes = 1_024

    @Option(help: "Longest resource name in characters.")
    var maxResourceNameLength = 256

    @Option(help: "Seconds from a request's first byte to its last; a request not received completely by then gets 408 and the connection closes.")
    var requestTimeout: Double = 30

    @Option(help: "Seconds a connection may sit with no request in flight before it is closed (with 408).")
    var idleTimeout: Double = 300

    @Option(help: "Waiters allowed on one resource; more get 503.")
    var maxWaitersPerResource = 100_000

    @Option(help: "Locks (held and waiting) allowed in total; more get 503.")
    var maxLocks = 1_000_000

    @Option(help: "Locks (held and waiting) allowed per client address; more get 429, so one client cannot fill the table.")
    var maxLocksPerClient = 10_000

    @Option(help: ArgumentHelp("The base of every Location, such as https://locks.example.com, for a daemon behind a reverse proxy or TLS terminator. Without it, Location is built from the request's Host, as the original did.", valueName: "url"))
    var publicURL: String?

    @Option(help: ArgumentHelp("Keep locks and fencing tokens across restarts in this directory (a journal and snapshots). Without it, locks live in memory only.", valueName: "directory"))
    var dataDir: String?

    @Option(help: ArgumentHelp("With --data-dir: when a change is on disk before its answer: 'always' (fsync before answering), 'batch' (the same, sharing one fsync among requests within 2 ms), 'never' (no fsync: survives a crash of rdlmd, not of the machine).", valueName: "always|batch|never"))
    var fsync: FsyncMode = .batch

    @Flag(help: "With --data-dir: start even when a journal is corrupt in the middle, keeping what precedes the damage and dropping the rest (logged).")
    var recoverTruncate = false

    @Option(help: ArgumentHelp("Keep every lock in etcd, at these member client URLs (comma-separated). Every rdlmd given the same cluster and --etcd-prefix serves one lock space; see the README's section on several daemons. Excludes --data-dir.", valueName: "url,..."))
    var etcdEndpoints: String?

    @Option(help: ArgumentHelp("With --etcd-endpoints: the key prefix of the lock space in etcd.", valueName: "prefix"))
    var etcdPrefix = "/rdlm/"

    @Option(help: ArgumentHelp("With --etcd-endpoints: seconds of the session lease that carries this daemon's waiters (at least 2). The waiters of a daemon that died leave their queues within this plus 0.5 s.", valueName: "seconds"))
    var etcdSessionTtl = 2

    @Option(help: ArgumentHelp("With --etcd-endpoints: seconds an etcd request may take; a request that needed it is then answered 503.", valueName: "seconds"))
    var etcdTimeout: Double = 2

    @Flag(help: "With --etcd-endpoints: serve GET /events, keeping a mirror of the lock space with a second watch of its own. Off by default: that watch carries every write to the lock space, and costs lock throughput.")
    var etcdEvents = false

    @Option(help: ArgumentHelp("GET /events: changes kept for clients that reconnect with Last-Event-ID; one that missed more gets a reset and a snapshot.", valueName: "count"))
    var eventHistory = EventStreamSettings().historyLimit

    @Option(help: ArgumentHelp("GET /events: changes one stream may have queued that its client has not read, beyond the window being written; past it the client gets a final reset and its stream is closed.", valueName: "count"))
    var eventBuffer = EventStreamSettings().bufferLimit

    @Option(help: ArgumentHelp("GET /events: seconds between the heartbeat comments that keep proxies from cutting an idle stream.", valueName: "seconds"))
    var eventHeartbeat = 15.0
    @Option(help: ArgumentHelp("Serve HTTPS (TLS 1.2 or later) with this PEM certificate chain: the server's certificate first, then intermediates. Needs --tls-private-key.", valueName: "pem"))
    var tlsCertificateChain: String?

    @Option(help: ArgumentHelp("The unencrypted PEM private key of --tls-certificate-chain.", valueName: "pem"))
    var tlsPrivateKey: String?

    @Option(help: ArgumentHelp("Mutual TLS: every connection must present a client certificate signed by a CA in this PEM file. Needs --tls-certificate-chain.", valueName: "pem"))
    var tlsClientCa: String?

    @Option(help: ArgumentHelp("With --tls-client-ca, repeatable: a client certificate whose subject Common Name (CN) is exactly this authorises admin requests without Basic credentials; others follow --admin-userpass-file (which must then be 'no' or a file).", valueName: "common-name"))
    var tlsAdminSubject: [String] = []

    @Option(help: "Event-loop threads (default: one per core).")
    var threads = System.coreCount

    @Option(help: ArgumentHelp("Client connections served at once; one more is answered 503 (with a message and Connection: close) and closed. Default: the descriptor limit (RLIMIT_NOFILE, whose soft limit rdlmd raises to the hard one at start) less \(DescriptorLimit.reserve) kept for listeners, the journal and event loops.", valueName: "count"))
    var maxConnections: Int?

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxLifetime > 0, maxLifetime.isFinite else { throw ValidationError("--max-lifetime must be a positive number of seconds") }
        guard maxWait >= 0, maxWait.isFinite else { throw ValidationError("--max-wait must be zero or more seconds") }
        for (name, value) in [("--request-timeout", requestTimeout), ("--idle-timeout", idleTimeout), ("--event-heartbeat", eventHeartbeat)] where !(value > 0 && value.isFinite) {
            throw ValidationError("\(name) must be a positive number of seconds")
        }
        for (name, value) in [
            ("--max-body-bytes", maxBodyBytes), ("--max-title-bytes", maxTitleBytes),
            ("--max-resource-name-length", maxResourceNameLength), ("--max-waiters-per-resource", maxWaitersPerResource),
            ("--max-locks", maxLocks), ("--max-locks-per-client", maxLocksPerClient), ("--threads", threads),
            ("--max-connections", maxConnections ?? 1), ("--admin-login-failures", adminLoginFailures),
            ("--event-history", eventHistory), ("--event-buffer", eventBuffer),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        if let etcdEndpoints {
            guard dataDir == nil else { throw ValidationError("--etcd-endpoints and --data-dir exclude each other: with etcd, the locks are kept there") }
            guard let endpoints = Self.endpoints(etcdEndpoints) else {
                throw ValidationError("--etcd-endpoints must be a comma-separated list of http://host:port URLs")
            }
            _ = endpoints
            guard etcdSessionTtl >= 2 else { throw ValidationError("--etcd-session-ttl must be at least 2 seconds (etcd's shortest lease)") }
            guard etcdTimeout > 0, etcdTimeout.isFinite else { throw ValidationError("--etcd-timeout must be a positive number of seconds") }
        }
        try validateTLS()
        if let publicURL, PublicURL.normalized(publicURL) == nil {
            throw ValidationError("--public-url must be an http:// or https:// URL with a host, and no query or fragment")
        }
    }

    func run() async throws {
        let level = logLevel
        switch logFormat {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "rdlmd")
        if let (before, after) = DescriptorLimit.raiseToHardLimit(), after > before {
            logger.info("raised the open-file limit (RLIMIT_NOFILE) from \(before) to \(after)")
        }
        let connectionLimit = maxConnections ?? DescriptorLimit.defaultMaxConnections()
        if let soft = DescriptorLimit.current()?.soft, connectionLimit > soft - DescriptorLimit.reserve {
            logger.warning("--max-connections \(connectionLimit) is more than the open-file limit (\(soft)) leaves for connections; when descriptors run out, accepting pauses until some close")
        }
        let admin: AdminAuthentication
        do {
            let loaded = try AdminAuthentication.load(adminUserpassFile)
            for warning in loaded.warnings { logger.warning("\(warning)") }
            admin = loaded.admin
        } catch {
            throw ValidationError("\(error)")
        }
        let flag = adminUserpassFile
        // SIGHUP re-reads a userpass file; `yes` and `no` name no file.
        let reloadAdmin: (@Sendable () throws -> AdminAuthentication.Loaded)? = ["yes", "no"].contains(flag) ? nil : { @Sendable in
            try AdminAuthentication.load(flag)
        }
        let limits = RequestLimits(
            maxLifetime: .seconds(maxLifetime),
            maxWait: .seconds(maxWait),
            maxBodyBytes: maxBodyBytes,
            maxTitleBytes: maxTitleBytes,
            maxResourceNameLength: maxResourceNameLength,
            requestTimeout: .seconds(requestTimeout),
            idleTimeout: .seconds(idleTimeout),
            table: LockTableLimits(maxWaitersPerResource: maxWaitersPerResource, maxLocks: maxLocks, maxLocksPerClient: maxLocksPerClient))
        let persistence = dataDir.map { Persistence(directory: $0, fsync: fsync, truncateCorruption: recoverTruncate) }
        var configuration = ServerConfiguration(
            host: host, port: port, adminAuthentication: admin, limits: limits, threads: threads, persistence: persistence,
            publicURL: publicURL.flatMap(PublicURL.normalized))
        configuration.maxConnections = connectionLimit
        configuration.events.historyLimit = eventHistory
        configuration.events.bufferLimit = eventBuffer
        configuration.events.heartbeat = .seconds(eventHeartbeat)
        configuration.tls = try tlsSettings()
        configuration.adminLoginFailures = adminLoginFailures
        if let endpoints = etcdEndpoints.flatMap(Self.endpoints) {
            configuration.etcd = EtcdSettings(
                endpoints: endpoints, prefix: etcdPrefix, sessionTTL: Int64(etcdSessionTtl), requestTimeout: .seconds(etcdTimeout))
            configuration.etcd?.events = etcdEvents
        }
        let group = ServiceGroup(
            services: [LockServerService(configuration: configuration, logger: logger, reloadAdminAuthentication: reloadAdmin)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        try await group.run()
    }
}

extension RDLMDaemon {
    /// The URLs of `--etcd-endpoints`, without trailing slashes; nil unless each is http://host:port.
    static func endpoints(_ list: String) -> [String]? {
        let endpoints = list.split(separator: ",").map { String($0).filter { !$0.isWhitespace } }.map { url in
            url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        guard !endpoints.isEmpty, endpoints.allSatisfy({ $0.hasPrefix("http://") && $0.count > "http://".count }) else { return nil }
        return endpoints
    }
}

/// `--log-format`.
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    case text
    case json
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension FsyncMode: ExpressibleByArgument {}
