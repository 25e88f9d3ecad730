import ArgumentParser
import Foundation
import RDLMClient

/// `rdlm watch [RESOURCE]`: the daemon's `GET /events`, a line per event, until interrupted.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print every change to the locks as it happens, until interrupted (admin).",
        discussion: """
            First the locks there are, one 'snapshot' line per lock (holders, then waiters, \
            whose token column says 'waiting'), then one line per change: time (the \
            server's, UTC), event (waiting, granted, released, expired, refreshed, \
            withdrawn, deleted), resource, mode, fencing token, title. --json prints each \
            event's data as one JSON object per line, with its "event" and "id".

            When the stream breaks or the server cannot be reached, rdlm says so on stderr \
            and reconnects by itself, resuming after the last event it printed \
            (Last-Event-ID); when the server cannot resume (it restarted), a note says so and \
            a new snapshot follows. SIGINT or SIGTERM ends it with status 0. Bad admin \
            credentials exit 108. Admin credentials come from --user and --password, else \
            $RDLM_USER and $RDLM_PASSWORD.

            Examples:
              rdlm watch
              rdlm watch deploy --json | jq -c 'select(.event == "granted") | .lock.fencing_token'
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var admin: AdminOptions

    @Argument(help: "Only this resource's locks (default: every resource).")
    var resource: String?

    @Flag(name: .long, help: "Print one JSON object per event: its data, its \"event\" and \"id\".")
    var json = false

    @Option(name: .long, help: ArgumentHelp(
        "Seconds without a byte from the server (its heartbeats come every 15 s by default) after which the stream counts as broken and is reopened.",
        valueName: "seconds"))
    var idleTimeout: Double = 60

    func validate() throws {
        if let resource { try ResourceName.validate(resource) }
        try Seconds.validate(idleTimeout, name: "--idle-timeout", allowZero: false)
    }

    func run() async throws {
        let configuration = server.configuration(admin: admin, maximumConnections: 2)
        let (resource, json, what, serverText) = (resource, json, "watch" + (resource.map { " '\($0)'" } ?? ""), server.serverText)
        let idle = Seconds.duration(idleTimeout)
        let watch = Task {
            do {
                try await RDLMClient.withClient(configuration: configuration) { client in
                    // Ends without an error when this task is cancelled (by a signal).
                    for try await event in client.events(resource: resource, idleTimeout: idle) {
                        WatchOutput.print(event, json: json, what: what)
                    }
                }
            } catch {
                throw CLIFailure.from(error, while: what, server: serverText)
            }
        }
        let signals = SignalEvents([SIGINT, SIGTERM]) { _ in watch.cancel() }
        defer { signals.cancel() }
        try await watch.value
    }
}

/// How `rdlm watch` writes events: straight to the descriptors, a whole line per write, so
/// that a reader of a pipe sees each line when it happens.
enum WatchOutput {
    static func print(_ event: RDLMEvent, json: Bool, what: String) {
        switch event {
        case .snapshot(let snapshot):
            if json {
                out(splice(snapshot.json, event: "snapshot", id: snapshot.id))
            } else if snapshot.locks.isEmpty {
                out(line(time: snapshot.time, event: "snapshot", columns: ["(no locks)"]))
            } else {
                for lock in snapshot.locks { out(line(time: snapshot.time, event: "snapshot", lock: lock)) }
            }
        case .change(let change):
            out(json ? splice(change.json, event: nil, id: change.id) : line(time: change.time, event: change.kind.rawValue, lock: change.lock))
        case .reset(let reason):
            note("rdlm: \(what): the server cannot resume the stream (\(reason)); its locks follow afresh")
            if json { out(JSONLine.encode(["event": "reset", "reason": reason])) }
        case .reconnecting(let reason, let after):
            note("rdlm: \(what): \(reason); reconnecting" + (after > .zero ? " in \(Seconds.text(after.rounded(toMilliseconds: 100)))" : ""))
        }
    }

    /// `TIME  EVENT  RESOURCE  MODE  TOKEN  "TITLE"`, with fixed-width columns.
    static func line(time: Date?, event: String, lock: LockDetails) -> String {
        let token = lock.isActive ? lock.fencingToken.map(String.init) ?? "-" : "waiting"
        return line(time: time, event: event, columns: [
            pad(lock.resource, 16), pad(lock.mode.rawValue, 9), pad(token, 16), JSONLine.encode(lock.title),
        ])
    }

    private static func line(time: Date?, event: String, columns: [String]) -> String {
        ([time.map(Timestamp.iso) ?? pad("-", 27), pad(event, 9)] + columns).joined(separator: " ")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }

    /// The event's data (a JSON object, as the server sent it) with `"event"` (unless the
    /// data has it) and `"id"` put first, the rest untouched.
    static func splice(_ data: String, event: String?, id: String) -> String {
        var head = ""
        if let event { head += "\"event\":" + JSONLine.encode(event) + "," }
        head += "\"id\":" + JSONLine.encode(id)
        let body = data.drop { $0 == " " }.dropFirst()
        let isEmpty = body.drop { $0 == " " }.first == "}"
        return "{" + head + (isEmpty ? "" : ",") + body
    }

    private static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

extension Duration {
    /// Rounded to a multiple of `step` milliseconds, for messages.
    func rounded(toMilliseconds step: Int64) -> Duration {
        let milliseconds = Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
        return .milliseconds(Int64((milliseconds / Double(step)).rounded()) * step)
    }
}
