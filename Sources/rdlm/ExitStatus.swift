import ArgumentParser
import RDLMClient

/// The exit statuses of `rdlm`, the same numbers as the shell client's `RDLM_EX_*`: above
/// the statuses commands commonly use (1, 2, 126, 127) and below the 128+N of a command
/// killed by signal N, so that `rdlm exec`'s status tells them apart from its command's.
enum ExitStatus {
    /// Something this table does not name went wrong.
    static let failure: Int32 = 1
    /// The wait for the lock ran out (408): it is held elsewhere.
    static let timeout: Int32 = 100
    /// An admin deleted the request while it waited for the lock (409).
    static let deleted: Int32 = 101
    /// No answer from the server: connection refused, name not resolved, timed out.
    static let unreachable: Int32 = 102
    /// Bad arguments, or the server refused them (400, 413).
    static let usage: Int32 = 103
    /// The lock (or, for `delete`, the resource's locks) does not exist (404).
    static let notFound: Int32 = 104
    /// The server could not serve the request (5xx; 503 when full or shutting down).
    static let serverError: Int32 = 105
    /// An answer the protocol does not allow.
    static let protocolError: Int32 = 106
    /// `exec`: the lock was lost while the command ran, so the command was stopped.
    static let lockLost: Int32 = 107
    /// An admin request was refused: credentials missing or wrong (401) or admin disabled (403).
    static let adminRefused: Int32 = 108
    /// `exec`: the command was found but could not be run.
    static let cannotExecute: Int32 = 126
    /// `exec`: the command was not found.
    static let commandNotFound: Int32 = 127

    /// The status of a process that ended because of signal `number`.
    static func signaled(_ number: Int32) -> Int32 { 128 + number }
}

/// A failure to report: one line on stderr (after `rdlm: `) and an exit status.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var status: Int32

    init(_ message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    var description: String { message }

    /// An invalid argument found after parsing (a URL that is not a lock's, say).
    static func usage(_ message: String) -> CLIFailure {
        CLIFailure(message, status: ExitStatus.usage)
    }

    /// Describes `error`, thrown while doing `what` (such as `acquire 'backup'`), for a
    /// person reading a terminal: the kind of failure in words, then the server's or
    /// curl's own message when there is one.
    static func from(_ error: any Error, while what: String, server: String) -> CLIFailure {
        if let failure = error as? CLIFailure { return failure }
        if error is CancellationError { return CLIFailure("\(what): interrupted", status: ExitStatus.failure) }
        guard let error = error as? RDLMError else {
            return CLIFailure("\(what): \(error)", status: ExitStatus.failure)
        }
        let detail = error.message.map { ": \($0)" } ?? ""
        let status = error.status.map { " (HTTP \($0))" } ?? ""
        switch error {
        case .waitTimeout:
            return CLIFailure("\(what): the wait ran out, the lock is held elsewhere", status: ExitStatus.timeout)
        case .deleted:
            return CLIFailure("\(what): the request was deleted while it waited (by an admin, or released by its URL)", status: ExitStatus.deleted)
        case .transport:
            return CLIFailure("\(what): no answer from \(server)\(detail)", status: ExitStatus.unreachable)
        case .badRequest:
            return CLIFailure("\(what): refused\(status)\(detail)", status: ExitStatus.usage)
        case .notFound:
            return CLIFailure("\(what): not found (released, expired or deleted)", status: ExitStatus.notFound)
        case .unauthorized:
            return CLIFailure("\(what): admin credentials missing or wrong; give --user and --password, or RDLM_USER and RDLM_PASSWORD", status: ExitStatus.adminRefused)
        case .forbidden:
            return CLIFailure("\(what): admin requests are disabled on this server", status: ExitStatus.adminRefused)
        case .serverError:
            return CLIFailure("\(what): server error\(status)\(detail)", status: ExitStatus.serverError)
        case .lockLost:
            return CLIFailure("\(what): the lock was lost\(detail)", status: ExitStatus.lockLost)
        case .unexpectedResponse:
            return CLIFailure("\(what): unexpected answer\(status)\(detail)", status: ExitStatus.protocolError)
        default:
            return CLIFailure("\(what): \(error)", status: ExitStatus.failure)
        }
    }
}
