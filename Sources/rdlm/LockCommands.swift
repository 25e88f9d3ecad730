import ArgumentParser
import Foundation
import RDLMClient

/// `rdlm acquire RESOURCE`: takes a lock and prints its URL, for scripts that hold a lock
/// across several commands.
struct AcquireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acquire",
        abstract: "Acquire a lock and print its URL (with --json, the whole lock and its fencing token).",
        discussion: """
            The lock outlives this command: release it with 'rdlm release URL', renew it with \
            'rdlm refresh URL', or let the server drop it when its lifetime ends. The lifetime \
            defaults to 300 s and the wait to 10 s. Exit 100 when the wait runs out.

            Examples:
              lock=$(rdlm acquire backup --lifetime 600 --wait 30) || exit
              rdlm acquire report --wait 0 --shared --json
            """)

    @OptionGroup var server: ServerOptions

    @Argument(help: "The resource to lock: ASCII letters and digits.")
    var resource: String

    @OptionGroup var request: LockRequestOptions

    @Flag(name: .long, help: "Print the lock as one line of JSON: url, uid, fencing_token, expiry and the rest.")
    var json = false

    func validate() throws {
        try ResourceName.validate(resource)
    }

    func run() async throws {
        let lifetime = request.lifetime.map(Seconds.duration) ?? .seconds(300)
        let wait = Seconds.duration(request.wait)
        let (lock, details) = try await server.withClient(server.configuration(title: request.title), doing: "acquire '\(resource)'") { client in
            let lock = try await client.acquire(resource, lifetime: lifetime, wait: wait, mode: request.mode)
            // The server's description adds the expiry; the lock is held even without it.
            let details = json ? try? await client.lock(at: lock.url) : nil
            return (lock, details)
        }
        if json {
            var document = details.map(LockJSON.init) ?? LockJSON(lock, wait: wait)
            document.resource = lock.resource
            document.fencingToken = document.fencingToken ?? lock.fencingToken
            print(JSONLine.encode(document))
        } else {
            print(lock.url.absoluteString)
        }
    }
}

/// `rdlm release URL`.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release a lock (or withdraw a waiting request).",
        discussion: """
            Exit 104 when the lock is already gone: released, expired or deleted by an admin.

            Example:
              rdlm release "$lock"
            """)

    @OptionGroup var server: ServerOptions

    @Argument(help: "The lock's URL, as 'rdlm acquire' printed it.")
    var url: String

    func run() async throws {
        let lock = try LockURL(url, server: server.serverTexts[0])
        try await server.withClient(doing: "release \(lock.url.absoluteString)") { client in
            try await client.release(at: lock.url)
        }
    }
}

/// `rdlm refresh URL`.
struct RefreshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Renew a lock's lease: it then expires a lifetime from now.",
        discussion: """
            A lock that is gone is never re-acquired: exit 104.

            Examples:
              rdlm refresh "$lock"                  # the lifetime it was acquired with
              rdlm refresh "$lock" --lifetime 600
            """)

    @OptionGroup var server: ServerOptions

    @Argument(help: "The lock's URL, as 'rdlm acquire' printed it.")
    var url: String

    @Option(name: .long, help: ArgumentHelp("The new lease in seconds (default: the lock's own lifetime).", valueName: "seconds"))
    var lifetime: Double?

    @Flag(name: .long, help: "Print the renewed lock as one line of JSON, as 'rdlm show --json' does.")
    var json = false

    func validate() throws {
        if let lifetime { try Seconds.validate(lifetime, name: "--lifetime", allowZero: false) }
    }

    func run() async throws {
        let lock = try LockURL(url, server: server.serverTexts[0])
        let details = try await server.withClient(doing: "refresh \(lock.url.absoluteString)") { client in
            try await client.refresh(at: lock.url, lifetime: lifetime.map(Seconds.duration))
        }
        if json { print(JSONLine.encode(LockJSON(details))) }
    }
}

/// `rdlm show URL`.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Describe a lock: held or waiting, its fencing token, since and until when.",
        discussion: """
            Example:
              rdlm show "$lock"
              rdlm show "$lock" --json | jq .fencing_token
            """)

    @OptionGroup var server: ServerOptions

    @Argument(help: "The lock's URL, as 'rdlm acquire' printed it.")
    var url: String

    @Flag(name: .long, help: "Print the lock as one line of JSON.")
    var json = false

    func run() async throws {
        let lock = try LockURL(url, server: server.serverTexts[0])
        let details = try await server.withClient(doing: "show \(lock.url.absoluteString)") { client in
            try await client.lock(at: lock.url)
        }
        if json {
            print(JSONLine.encode(LockJSON(details)))
        } else {
            LockDescription.lines(details).forEach { print($0) }
        }
    }
}
