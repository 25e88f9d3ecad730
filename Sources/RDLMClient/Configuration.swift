import Foundation

extension RDLMClient {
    /// Where the daemons are and what a request says when the caller does not.
    public struct Configuration: Sendable {
        /// The daemons' addresses, such as `http://127.0.0.1:8888`: daemons that share one
        /// lock space, tried in turn when one gives no answer (see ``RDLMClient``).
        public var servers: [URL]
        /// The first server: the only one, for a client of one daemon. Setting it makes the
        /// list that one server.
        public var baseURL: URL {
            get { servers.first ?? URL(string: "http://127.0.0.1:8888")! }
            set { servers = [newValue] }
        }
        /// The `title` of lock requests that give none; by default who and where this
        /// process is (see ``processTitle``).
        public var defaultTitle: String
        /// The lease of locks whose request gives no lifetime.
        public var defaultLifetime: Duration
        /// How long an acquire may wait for the lock when the request gives no wait.
        public var defaultWait: Duration
        /// HTTP Basic credentials for the admin requests, when the server asks for them.
        public var adminCredentials: AdminCredentials?
        /// How long a request may take, connecting included. An acquire may take its
        /// `wait` on top of this.
        public var requestTimeout: Duration
        /// How long connecting to one server may take; then the next is tried.
        public var connectTimeout: Duration
        /// How many connections to the daemons are kept open for reuse. Requests in flight
        /// each hold one connection regardless (HTTP/1.1); this bounds the idle ones kept
        /// afterwards, so set it to at least the usual number of concurrent requests.
        public var maximumConnections: Int
        /// PEM file of the CAs that sign the daemons' certificates, for `https://` servers
        /// (curl's `CURLOPT_CAINFO`); nil: the system's CA bundle.
        public var caBundle: String?
        /// PEM file of a client certificate, for a daemon with mutual TLS (`--tls-client-ca`)
        /// (curl's `CURLOPT_SSLCERT`).
        public var clientCertificate: String?
        /// PEM file of `clientCertificate`'s private key, unencrypted (`CURLOPT_SSLKEY`);
        /// nil when it is in the certificate's file.
        public var clientKey: String?

        /// A client of one daemon.
        /// - Parameters:
        ///   - baseURL: the daemon's address.
        ///   - defaultTitle: the title of requests that give none.
        ///   - defaultLifetime: the lease of requests that give none (the Python client's 300 s).
        ///   - defaultWait: the wait of requests that give none (the Python client's 10 s).
        ///   - adminCredentials: credentials for admin requests, if the server needs them.
        ///   - requestTimeout: the time limit of a request, beyond an acquire's wait.
        ///   - connectTimeout: the time limit of connecting.
        ///   - maximumConnections: connections kept open for reuse.
        public init(
            baseURL: URL = URL(string: "http://127.0.0.1:8888")!,
            defaultTitle: String = Configuration.processTitle,
            defaultLifetime: Duration = .seconds(300),
            defaultWait: Duration = .seconds(10),
            adminCredentials: AdminCredentials? = nil,
            requestTimeout: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(5),
            maximumConnections: Int = 1_024
        ) {
            self.servers = [baseURL]
            self.defaultTitle = defaultTitle
            self.defaultLifetime = defaultLifetime
            self.defaultWait = defaultWait
            self.adminCredentials = adminCredentials
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
            self.maximumConnections = maximumConnections
        }

        /// A client of several daemons that share one lock space, with the other settings
        /// of `settings`.
        /// - Parameters:
        ///   - servers: the daemons' addresses, at least one; requests start at the first.
        ///   - settings: the title, lifetime, wait, credentials, timeouts and connections.
        public init(servers: [URL], settings: Configuration = Configuration()) {
            self = settings
            self.servers = servers
        }

        /// A title naming this process, in the original Python client's format:
        /// `user#pid(program) with RDLMClient(version) @host`.
        public static let processTitle: String = {
            let user = ProcessInfo.processInfo.environment["USER"]
                ?? getpwuid(geteuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
                ?? "unknown"
            let program = CommandLine.arguments.first ?? "?"
            let host = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer -> String in
                buffer.initialize(repeating: 0)
                guard gethostname(buffer.baseAddress!, buffer.count - 1) == 0 else { return "unknown" }
                return String(cString: buffer.baseAddress!)
            }
            return "\(user)#\(getpid())(\(program)) with RDLMClient(\(RDLMClient.version)) @\(host)"
        }()
    }

    /// A user name and password for HTTP Basic authentication of admin requests.
    public struct AdminCredentials: Sendable, Hashable {
        /// The admin user, as in the server's userpass file.
        public var username: String
        /// The admin's password.
        public var password: String

        /// - Parameters:
        ///   - username: the admin user.
        ///   - password: the admin's password.
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// The `Authorization` header line.
        var headerLine: String {
            "Authorization: Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        }
    }
}
