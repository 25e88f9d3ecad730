import ArgumentParser
import Foundation
import RDLMClient

/// `rdlm resources`: the resources that have locks, with how many hold and wait.
struct ResourcesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resources",
        abstract: "List the resources that have locks, held or waiting (admin).",
        discussion: """
            The table has one line per resource: its holders, its waiters, the mode held and \
            when the first holder's lease runs out. Admin credentials come from --user and \
            --password, else $RDLM_USER and $RDLM_PASSWORD.

            Examples:
              rdlm resources
              RDLM_USER=admin RDLM_PASSWORD=s3cret rdlm resources --json
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var admin: AdminOptions

    @Flag(name: .long, help: "Print a JSON array of {name, holders, waiters}.")
    var json = false

    struct Summary: Encodable, Sendable {
        var name: String
        var holders: Int
        var waiters: Int
        var mode: String?
        var expires: Date?

        enum CodingKeys: String, CodingKey { case name, holders, waiters }
    }

    func run() async throws {
        let summaries = try await server.withClient(server.configuration(admin: admin), doing: "resources") { client in
            let names = try await client.resources()
            return try await Self.summaries(of: names, client: client)
        }
        if json {
            print(JSONLine.encode(summaries))
            return
        }
        guard !summaries.isEmpty else {
            print("no resource has locks")
            return
        }
        let now = Date()
        var table = Table(["RESOURCE", "HOLDERS", "WAITERS", "MODE", "EXPIRES"])
        for summary in summaries {
            table.add([summary.name, String(summary.holders), String(summary.waiters), summary.mode ?? "-",
                       summary.expires.map { Timestamp.relative($0, now: now) } ?? "-"])
        }
        table.lines.forEach { print($0) }
    }

    /// Each resource's locks, eight requests at a time. A resource whose locks went away
    /// meanwhile shows no holders.
    static func summaries(of names: [String], client: RDLMClient) async throws -> [Summary] {
        try await withThrowingTaskGroup(of: (Int, Summary).self) { group in
            var results = [Summary?](repeating: nil, count: names.count)
            var next = 0
            func addNext() {
                guard next < names.count else { return }
                let (index, name) = (next, names[next])
                next += 1
                group.addTask {
                    let locks = try await client.locks(on: name)
                    let holders = locks.filter(\.isActive)
                    return (index, Summary(
                        name: name, holders: holders.count, waiters: locks.count - holders.count,
                        mode: holders.first?.mode.rawValue, expires: holders.compactMap(\.activeExpires).min()))
                }
            }
            for _ in 0..<8 { addNext() }
            while let (index, summary) = try await group.next() {
                results[index] = summary
                addNext()
            }
            return results.compactMap { $0 }
        }
    }
}

/// `rdlm locks RESOURCE`: the holders and waiters of one resource.
struct LocksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locks",
        abstract: "List the locks on a resource: holders first, then waiters in queue order (admin).",
        discussion: """
            Examples:
              rdlm locks backup
              rdlm locks backup --json | jq '.[0].fencing_token'
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var admin: AdminOptions

    @Argument(help: "The resource's name.")
    var resource: String

    @Flag(name: .long, help: "Print a JSON array of locks, as 'rdlm show --json' prints one.")
    var json = false

    func validate() throws {
        try ResourceName.validate(resource)
    }

    func run() async throws {
        let locks = try await server.withClient(server.configuration(admin: admin), doing: "locks '\(resource)'") { client in
            try await client.locks(on: resource)
        }
        if json {
            print(JSONLine.encode(locks.map(LockJSON.init)))
            return
        }
        guard !locks.isEmpty else {
            print("no locks on '\(resource)'")
            return
        }
        let now = Date()
        var table = Table(["STATE", "MODE", "TOKEN", "SINCE", "EXPIRES", "UID", "TITLE"])
        for lock in locks {
            let since = lock.isActive ? lock.activeSince : lock.waitSince
            let expires = lock.isActive ? lock.activeExpires : lock.waitExpires
            table.add([
                lock.isActive ? "held" : "waiting", lock.mode.rawValue, lock.fencingToken.map(String.init) ?? "-",
                since.map { Timestamp.relative($0, now: now) } ?? "-",
                expires.map { Timestamp.relative($0, now: now) } ?? "-",
                lock.uid, lock.title,
            ])
        }
        table.lines.forEach { print($0) }
    }
}

/// `rdlm delete RESOURCE | --all`: the admin delete.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete every lock on a resource, or on every resource with --all (admin).",
        discussion: """
            Holders lose their locks (their refreshes and releases find them gone) and every \
            waiter is refused (409). Exit 104 when the resource had no locks.

            Examples:
              rdlm delete backup
              rdlm delete --all --user admin      # password from $RDLM_PASSWORD
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var admin: AdminOptions

    @Argument(help: "The resource whose locks to delete.")
    var resource: String?

    @Flag(name: .long, help: "Delete the locks on every resource.")
    var all = false

    func validate() throws {
        switch (resource, all) {
        case (nil, false): throw ValidationError("name a resource, or give --all")
        case (.some, true): throw ValidationError("give a resource or --all, not both")
        case (let name?, false): try ResourceName.validate(name)
        case (nil, true): break
        }
    }

    func run() async throws {
        let what = resource.map { "delete '\($0)'" } ?? "delete --all"
        try await server.withClient(server.configuration(admin: admin), doing: what) { client in
            if let resource {
                do {
                    try await client.deleteResource(resource)
                } catch let error as RDLMError where error == .notFound {
                    throw CLIFailure("\(what): the resource has no locks", status: .notFound)
                }
            } else {
                try await client.deleteAll()
            }
        }
    }
}

/// Columns aligned with spaces; the last column is not padded.
struct Table {
    private var rows: [[String]]

    init(_ header: [String]) {
        rows = [header]
    }

    mutating func add(_ row: [String]) {
        rows.append(row)
    }

    var lines: [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}
