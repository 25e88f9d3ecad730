import ArgumentParser
import RDLMWire
import Foundation
import RDLMClient

/// Where the daemon is: every command takes it.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's URL (default: $RDLM_SERVER, else http://127.0.0.1:8888).", valueName: "url"))
    var server: String?

    /// The URL text, without a trailing slash.
    var serverText: String {
        var text = server ?? ProcessInfo.processInfo.environment["RDLM_SERVER"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://127.0.0.1:8888"
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    func validate() throws {
        let text = serverText
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host?.isEmpty == false else {
            throw ValidationError("the server URL '\(text)' is not an http:// or https:// URL")
        }
    }

    /// A client configuration for this server.
    func configuration(
        title: String? = nil, admin: AdminOptions? = nil, maximumConnections: Int = 16
    ) -> RDLMClient.Configuration {
        RDLMClient.Configuration(
            baseURL: URL(string: serverText)!,
            defaultTitle: title ?? RDLMClient.Configuration.processTitle,
            adminCredentials: admin?.credentials,
            maximumConnections: maximumConnections)
    }

    /// These options aimed at the server that issued `lock`, whose URL may name another
    /// server than `--server` (the client also completes the lock's links from it).
    func atOrigin(of lock: LockURL) -> ServerOptions {
        var origin = self
        origin.server = lock.origin
        return origin
    }

    /// Runs `body` with a client of this server (with `configuration`, else the plain one),
    /// turning its errors into a `CLIFailure` that says what was being done.
    func withClient<Result>(
        _ configuration: RDLMClient.Configuration? = nil, doing what: String,
        _ body: (RDLMClient) async throws -> sending Result
    ) async throws -> sending Result {
        do {
            return try await RDLMClient.withClient(configuration: configuration ?? self.configuration(), body)
        } catch {
            throw CLIFailure.from(error, while: what, server: serverText)
        }
    }
}

/// HTTP Basic credentials for the admin requests, when the server asks for them.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Admin user name (default: $RDLM_USER).", valueName: "name"))
    var user: String?

    @Option(name: .long, help: ArgumentHelp(
        "Admin password (default: $RDLM_PASSWORD; prefer the variable: a flag shows in ps).", valueName: "password"))
    var password: String?

    var credentials: RDLMClient.AdminCredentials? {
        let environment = ProcessInfo.processInfo.environment
        guard let user = user ?? environment["RDLM_USER"], !user.isEmpty else { return nil }
        return .init(username: user, password: password ?? environment["RDLM_PASSWORD"] ?? "")
    }
}

/// What an acquire asks for, shared by `acquire` and `exec`.
struct LockRequestOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Seconds the server keeps the lock unless refreshed or released; decimals allowed (default: 300; exec: 60, renewed while the command runs).",
        valueName: "seconds"))
    var lifetime: Double?

    @Option(name: .long, help: ArgumentHelp(
        "Seconds to wait for the lock when it is held; 0 gives up at once.", valueName: "seconds"))
    var wait: Double = 10

    @Option(name: .long, help: "What the server shows for this lock (default: who and where this process is).")
    var title: String?

    @Flag(name: .long, help: "Take a shared lock: any number of shared holders at once, exclusive holders alone.")
    var shared = false

    var mode: LockMode { shared ? .shared : .exclusive }

    func validate() throws {
        if let lifetime { try Seconds.validate(lifetime, name: "--lifetime", allowZero: false) }
        try Seconds.validate(wait, name: "--wait", allowZero: true)
    }
}

/// Seconds given on the command line.
enum Seconds {
    static func validate(_ value: Double, name: String, allowZero: Bool) throws {
        guard value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw ValidationError("\(name) must be a number of seconds \(allowZero ? "of 0 or more" : "greater than 0"), not \(value)")
        }
    }

    /// Kept to the microsecond, as the wire keeps it.
    static func duration(_ value: Double) -> Duration {
        WireSeconds.duration(seconds: value)
    }

    /// `300 s`, `0.25 s`: the wire's number of seconds, with its unit.
    static func text(_ duration: Duration) -> String {
        WireSeconds.format(duration) + " s"
    }
}

/// A resource name given on the command line: `[a-zA-Z0-9]+`, as on the wire.
enum ResourceName {
    static func validate(_ name: String) throws {
        guard RDLMWire.ResourceName.isValid(name) else {
            throw ValidationError(RDLMWire.ResourceName.invalidMessage(name))
        }
    }
}
