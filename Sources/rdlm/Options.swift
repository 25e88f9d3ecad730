import ArgumentParser
import RDLMWire
import Foundation
import RDLMClient

/// Where the daemons are: every command takes them.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A daemon's URL; repeat it or separate URLs with commas for daemons sharing one lock space, tried in turn when one gives no answer (default: $RDLM_SERVER, also a comma-separated list, else http://127.0.0.1:8888).",
        valueName: "url"))
    var server: [String] = []

    @Option(name: .customLong("cacert"), help: ArgumentHelp(
        "PEM file of the CAs that sign the daemons' certificates, for https:// servers (default: $RDLM_CACERT, else the system's CAs).",
        valueName: "pem"))
    var caBundle: String?

    @Option(name: .customLong("cert"), help: ArgumentHelp(
        "PEM file of a client certificate, for a daemon that requires one (mutual TLS) (default: $RDLM_CERT).", valueName: "pem"))
    var clientCertificate: String?

    @Option(name: .customLong("key"), help: ArgumentHelp(
        "PEM file of --cert's private key, unencrypted (default: $RDLM_KEY; else the key is in --cert's file).", valueName: "pem"))
    var clientKey: String?

    /// A TLS file: the flag, else its environment variable; an empty variable is none.
    private static func tlsFile(_ flag: String?, _ variable: String) -> String? {
        guard let path = flag ?? ProcessInfo.processInfo.environment[variable], !path.isEmpty else { return nil }
        return path
    }

    var tlsFiles: (caBundle: String?, clientCertificate: String?, clientKey: String?) {
        (Self.tlsFile(caBundle, "RDLM_CACERT"), Self.tlsFile(clientCertificate, "RDLM_CERT"), Self.tlsFile(clientKey, "RDLM_KEY"))
    }

    /// The URLs as text, without trailing slashes: every `--server`, each split at commas,
    /// else `RDLM_SERVER` split the same way, else the default.
    var serverTexts: [String] {
        var texts = Self.split(server)
        if texts.isEmpty { texts = Self.split(ProcessInfo.processInfo.environment["RDLM_SERVER"].map { [$0] } ?? []) }
        if texts.isEmpty { texts = ["http://127.0.0.1:8888"] }
        return texts
    }

    /// The servers for messages: `http://a:8888, http://b:8888`.
    var serverText: String { serverTexts.joined(separator: ", ") }

    /// The comma-separated lists in `values`, as URLs without trailing slashes; empty
    /// items (`a,,b`, a trailing comma) are dropped.
    private static func split(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.compactMap { item in
            var text = item.trimmingCharacters(in: .whitespaces)
            while text.hasSuffix("/") { text.removeLast() }
            return text.isEmpty ? nil : text
        }
    }

    func validate() throws {
        for text in serverTexts {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  url.host?.isEmpty == false else {
                throw ValidationError("the server URL '\(text)' is not an http:// or https:// URL")
            }
        }
        let files = tlsFiles
        for (name, path) in [("--cacert", files.caBundle), ("--cert", files.clientCertificate), ("--key", files.clientKey)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(name) '\(path)' is not a readable file")
            }
        }
    }

    /// A client configuration for these servers.
    func configuration(
        title: String? = nil, admin: AdminOptions? = nil, maximumConnections: Int = 16
    ) -> RDLMClient.Configuration {
        var configuration = RDLMClient.Configuration(servers: serverTexts.map { URL(string: $0)! }, settings: .init(
            defaultTitle: title ?? RDLMClient.Configuration.processTitle,
            adminCredentials: admin?.credentials,
            maximumConnections: maximumConnections))
        (configuration.caBundle, configuration.clientCertificate, configuration.clientKey) = tlsFiles
        return configuration
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
