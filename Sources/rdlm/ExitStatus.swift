import ArgumentParser
import RDLMClient

/// The exit statuses of `rdlm`, the same numbers as the shell client's `RDLM_EX_*`: above
/// the statuses commands commonly use (1, 2, 126, 127) and below the 128+N of a command
/// killed by signal N, so that `rdlm exec`'s status tells them apart from its command's.
/// `rdlm --help` prints this table (``helpTable``); Tests/cli checks it against rdlm.sh.
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    case failure = 1
    case timeout = 100
    case deleted = 101
    case unreachable = 102
    case usage = 103
    case notFound = 104
    case serverError = 105
    case protocolError = 106
    case lockLost = 107
    case adminRefused = 108
    case cannotExecute = 126
    case commandNotFound = 127

    /// One line of `rdlm --help`; with its status in front it fits in 80 columns.
    var meaning: String {
        switch self {
        case .success: "success (exec: the command's own status, 128+N if killed by signal N)"
        case .failure: "a failure no other status names"
        case .timeout: "the wait for the lock ran out: it is held elsewhere (408)"
        case .deleted: "an admin deleted the request while it waited (409)"
        case .unreachable: "no answer from the server (refused, unresolved, timed out)"
        case .usage: "bad arguments, or refused by the server (400, 413; 404 on acquire)"
        case .notFound: "no such lock (released, expired, deleted), or no locks to delete"
        case .serverError: "server error (5xx, e.g. 503 when full or shutting down)"
        case .protocolError: "an answer the protocol does not allow"
        case .lockLost: "exec: the lock was lost while the command ran; it was stopped"
        case .adminRefused: "admin request refused: bad or missing credentials (401), or off (403)"
        case .cannotExecute: "exec: the command cannot be run"
        case .commandNotFound: "exec: the command was not found"
        }
    }

    /// Every status and its meaning, a line each, as `rdlm --help` shows them.
    static var helpTable: String {
        allCases.map { status in
            "  " + String(status.rawValue).padding(toLength: 5, withPad: " ", startingAt: 0) + status.meaning
        }.joined(separator: "\n")
    }

    /// The status of a process that ended because of signal `number`.
    static func signaled(_ number: Int32) -> Int32 { 128 + number }
}

/// A failure to report: one line on stderr (after `rdlm: `) and an exit status.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var status: Int32

    init(_ message: String, status: ExitStatus) {
        self.message = message
        self.status = status.rawValue
    }

    var description: String { message }

    /// An invalid argument found after parsing (a URL that is not a lock's, say).
    static func usage(_ message: String) -> CLIFailure {
        CLIFailure(message, status: .usage)
    }

    /// Describes `error`, thrown while doing `what` (such as `acquire 'backup'`), for a
    /// person reading a terminal: the kind of failure in words, then the server's or
    /// curl's own message when there is one.
    static func from(_ error: any Error, while what: String, server: String) -> CLIFailure {
        if let failure = error as? CLIFailure { return failure }
        if error is CancellationError { return CLIFailure("\(what): interrupted", status: .failure) }
        guard let error = error as? RDLMError else {
            return CLIFailure("\(what): \(error)", status: .failure)
        }
        let detail = error.message.map { ": \($0)" } ?? ""
        let status = error.status.map { " (HTTP \($0))" } ?? ""
        switch error {
        case .waitTimeout:
            return CLIFailure("\(what): the wait ran out, the lock is held elsewhere", status: .timeout)
        case .deleted:
            return CLIFailure("\(what): the request was deleted while it waited (by an admin, or released by its URL)", status: .deleted)
        case .transport:
            return CLIFailure("\(what): no answer from \(server)\(detail)", status: .unreachable)
        case .badRequest:
            return CLIFailure("\(what): refused\(status)\(detail)", status: .usage)
        case .notFound:
            return CLIFailure("\(what): not found (released, expired or deleted)", status: .notFound)
        case .unauthorized:
            return CLIFailure("\(what): admin credentials missing or wrong; give --user and --password, or RDLM_USER and RDLM_PASSWORD", status: .adminRefused)
        case .forbidden:
            return CLIFailure("\(what): admin requests are disabled on this server", status: .adminRefused)
        case .serverError:
            return CLIFailure("\(what): server error\(status)\(detail)", status: .serverError)
        case .lockLost:
            return CLIFailure("\(what): the lock was lost\(detail)", status: .lockLost)
        case .unexpectedResponse:
            return CLIFailure("\(what): unexpected answer\(status)\(detail)", status: .protocolError)
        default:
            return CLIFailure("\(what): \(error)", status: .failure)
        }
    }
}
