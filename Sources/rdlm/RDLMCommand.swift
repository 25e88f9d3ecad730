import ArgumentParser
import Foundation
import RDLMClient

/// `rdlm`: the command-line client of `rdlmd`.
struct RDLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rdlm",
        abstract: "The command-line client of rdlmd, the RESTful distributed lock manager.",
        discussion: """
            The server is --server, else $RDLM_SERVER, else http://127.0.0.1:8888. Several \
            daemons sharing one lock space: repeat --server or list URLs with commas \
            (RDLM_SERVER=http://a:8888,http://b:8888); a request goes to the next one when a \
            server gives no answer, never after an answer (503 included). Errors are one line \
            on stderr.

            Exit statuses (the shell client's RDLM_EX_* numbers):
            \(ExitStatus.helpTable)

            Examples:
              lock=$(rdlm acquire backup --lifetime 600) && ... && rdlm release "$lock"
              rdlm exec nightly --wait 0 -- ./backup.sh /srv
              rdlm watch deploy
              rdlm bench --connections 20 --duration 10
            """,
        version: RDLMClient.version,
        subcommands: [
            AcquireCommand.self, ReleaseCommand.self, RefreshCommand.self, ShowCommand.self,
            ExecCommand.self, ResourcesCommand.self, LocksCommand.self, DeleteCommand.self,
            WatchCommand.self, BenchCommand.self,
        ])
}

@main
enum RDLMMain {
    /// Parses, runs, and exits with the statuses of ``ExitStatus``. Unlike
    /// `AsyncParsableCommand.main()`, a usage error exits with 103 (like the shell client)
    /// and every error is one line.
    static func main() async {
        InheritedState.record()
        let command: any ParsableCommand
        do {
            command = try RDLMCommand.parseAsRoot()
        } catch {
            exitAfterParsing(error)
        }
        do {
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
            exit(0)
        } catch let failure as CLIFailure {
            fail(failure.message, status: failure.status)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            exitAfterParsing(error)
        }
    }

    /// Help and version go to stdout with status 0; a usage error is one line on stderr.
    private static func exitAfterParsing(_ error: any Error) -> Never {
        let code = RDLMCommand.exitCode(for: error)
        if code == .success {
            print(RDLMCommand.fullMessage(for: error))
            exit(0)
        }
        var message = RDLMCommand.message(for: error)
        if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
        message = message.split(separator: "\n").first.map(String.init) ?? message
        if let first = message.first { message = first.lowercased() + message.dropFirst() }
        // ArgumentParser names the help that applies on a line of its own:
        // "  See 'rdlm acquire --help' for more information."
        let fullMessage = RDLMCommand.fullMessage(for: error)
        if let see = fullMessage.range(of: "See '"), let end = fullMessage[see.upperBound...].firstIndex(of: "'") {
            message += " (see '\(fullMessage[see.upperBound..<end])')"
        }
        fail(message,
             status: code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue)
    }

    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("rdlm: \(message)\n".utf8))
        exit(status)
    }
}
