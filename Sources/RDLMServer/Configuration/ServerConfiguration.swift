import NIOCore
import RDLMCore

/// Everything `rdlmd` can be told at start-up.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on; 0 picks a free one (tests).
    public var port: Int
    /// Who may use the admin requests.
    public var adminAuthentication: AdminAuthentication
    public var limits: RequestLimits
    /// Event-loop threads; defaults to one per core.
    public var threads: Int
    /// Where locks are kept across restarts; `nil` keeps them in memory only.
    public var persistence: Persistence?
    /// Keeps every lock in etcd, shared with every daemon given the same cluster and prefix;
    /// excludes `persistence`.
    public var etcd: EtcdSettings?
    /// The base of every `Location` (`--public-url`, such as `https://locks.example.com`),
    /// for a daemon behind a reverse proxy or TLS terminator; nil builds it from the
    /// request's `Host`, as the original did.
    public var publicURL: String?
    /// Client connections served at once; one more gets 503 and is closed. The default
    /// leaves `DescriptorLimit.reserve` of the descriptor limit for everything else.
    public var maxConnections = DescriptorLimit.defaultMaxConnections()
    /// How `GET /events` is bounded.
    public var events = EventStreamSettings()
    /// Serve HTTPS with these files (`--tls-certificate-chain` and companions); nil: HTTP.
    public var tls: TLSSettings?
    /// Failed admin logins allowed per client address within `LoginFailures.defaultWindow`
    /// (`--admin-login-failures`); more get 429 until the window ends.
    public var adminLoginFailures = LoginFailures.defaultLimit

    public init(
        host: String = "127.0.0.1",
        port: Int = 8888,
        adminAuthentication: AdminAuthentication = .open,
        limits: RequestLimits = RequestLimits(),
        threads: Int = System.coreCount,
        persistence: Persistence? = nil,
        publicURL: String? = nil
    ) {
        self.host = host
        self.port = port
        self.adminAuthentication = adminAuthentication
        self.limits = limits
        self.threads = threads
        self.persistence = persistence
        self.publicURL = publicURL
    }
}

/// `--data-dir` and its companions.
public struct Persistence: Sendable, Equatable {
    /// The directory of the journal and snapshots (created if missing).
    public var directory: String
    public var fsync: FsyncMode
    /// Start even when a journal is corrupt in the middle, keeping what precedes the damage.
    public var truncateCorruption: Bool

    public init(directory: String, fsync: FsyncMode = .batch, truncateCorruption: Bool = false) {
        self.directory = directory
        self.fsync = fsync
        self.truncateCorruption = truncateCorruption
    }
}

/// Bounds on what one request may ask and on how much the server holds. Each one
/// exceeded gets a clear 4xx (or 503 when the server is full), never silence.
public struct RequestLimits: Sendable, Equatable {
    /// Longest `lifetime` a lock may ask for.
    public var maxLifetime: Duration
    /// Longest `wait` a lock request may ask for.
    public var maxWait: Duration
    /// Largest request body, in bytes (413 beyond).
    public var maxBodyBytes: Int
    /// Longest `title`, in UTF-8 bytes.
    public var maxTitleBytes: Int
    /// Longest resource name, in characters.
    public var maxResourceNameLength: Int
    /// How long a request may go without progress once it has started (408 after).
    public var requestTimeout: Duration
    /// How long a connection may sit with no request in flight before it is closed.
    public var idleTimeout: Duration
    /// Waiters on one resource and locks overall (503 beyond).
    public var table: LockTableLimits

    public init(
        maxLifetime: Duration = .seconds(86_400),
        maxWait: Duration = .seconds(3_600),
        maxBodyBytes: Int = 8_192,
        maxTitleBytes: Int = 1_024,
        maxResourceNameLength: Int = 256,
        requestTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(300),
        table: LockTableLimits = LockTableLimits()
    ) {
        self.maxLifetime = maxLifetime
        self.maxWait = maxWait
        self.maxBodyBytes = maxBodyBytes
        self.maxTitleBytes = maxTitleBytes
        self.maxResourceNameLength = maxResourceNameLength
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.table = table
    }
}

