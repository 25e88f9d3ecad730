import ArgumentParser
import Foundation
import RDLMClient

/// `rdlm exec RESOURCE -- COMMAND ARGS...`: runs a command while holding a lock, like
/// `flock(1)`, `etcdctl lock` and `consul lock`, with the lease kept alive for as long as
/// the command runs.
struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command while holding a lock; exit with the command's status.",
        discussion: """
            The command is executed directly (no shell) once the lock is granted, with \
            RDLM_LOCK_URL and RDLM_FENCING_TOKEN in its environment. Its lease is renewed \
            every third of --lifetime while it runs, so --lifetime only bounds how long a \
            crashed rdlm blocks others. SIGINT, SIGTERM and SIGHUP sent to rdlm are forwarded \
            to the command (a Ctrl-C in a terminal reaches both anyway). When the command ends \
            the lock is released and rdlm exits with its status, or 128+N if signal N killed it.

            If the lock is lost while the command runs (an admin deleted it, or the server \
            could not be reached before the lease ran out), the command gets SIGTERM, then \
            SIGKILL after --kill-grace, and rdlm exits 107. Before the lock is granted: 100 \
            when the wait runs out, 102 when the server is unreachable, 127 when the command \
            does not exist, and 128+N when signal N interrupts the wait.

            Examples:
              rdlm exec nightly --wait 0 -- ./backup.sh /srv       # skip if another runs
              rdlm exec deploy --lifetime 30 --wait 600 -- make deploy
              rdlm exec db --kill-grace 30 -- sh -c 'migrate --token "$RDLM_FENCING_TOKEN"'
            """)

    @OptionGroup var server: ServerOptions

    @Argument(help: "The resource to lock: ASCII letters and digits.")
    var resource: String

    @OptionGroup var request: LockRequestOptions

    @Option(name: .long, help: ArgumentHelp(
        "Seconds between SIGTERM and SIGKILL when the lock is lost.", valueName: "seconds"))
    var killGrace: Double = 5

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        try ResourceName.validate(resource)
        try Seconds.validate(killGrace, name: "--kill-grace", allowZero: true)
        guard !command.isEmpty else {
            throw ValidationError("give the command to run after --, as in: rdlm exec \(resource) -- ./job.sh")
        }
    }

    func run() async throws {
        try ChildProcess.check(command[0])
        let what = "exec '\(resource)'"
        let session = ExecSession()
        let signals = SignalEvents(InheritedState.catchable) { session.deliver($0) }
        defer { signals.cancel() }
        let status: Int32
        do {
            status = try await withThrowingTaskGroup(of: Int32?.self) { group in
                group.addTask { try await runUnderLock(session) }
                group.addTask {
                    // Ends when a signal interrupts the wait for the lock, or when cancelled.
                    await session.waitInterrupted()
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                if let status = first { return status }
                // Interrupted while waiting: the acquire is withdrawn, or a lock granted
                // meanwhile is released, before the group ends.
                while (try? await group.next()) != nil {}
                return ExitStatus.signaled(session.interruptingSignal ?? SIGINT)
            }
        } catch let error as RDLMError where error == .lockLost {
            if !session.reportedLoss {
                throw CLIFailure("\(what): the lock was gone before the command finished: \(error.message ?? "its lease ran out or an admin deleted it")", status: .lockLost)
            }
            throw ExitCode(ExitStatus.lockLost.rawValue)
        } catch is CancellationError {
            throw ExitCode(ExitStatus.signaled(session.interruptingSignal ?? SIGINT))
        } catch {
            if let commandStatus = session.commandStatus {
                // The command ran to its end under the lock; only the release failed, and
                // the server drops the lock when its lifetime ends.
                let failure = CLIFailure.from(error, while: what, server: server.serverText)
                FileHandle.standardError.write(Data("rdlm: warning: releasing the lock failed (\(failure.message)); it expires within its lifetime\n".utf8))
                throw ExitCode(commandStatus)
            }
            throw CLIFailure.from(error, while: what, server: server.serverText)
        }
        throw ExitCode(status)
    }

    /// Who and where, as other titles, and which command, for whoever lists the locks;
    /// cut to 256 bytes, well within the server's limit on titles.
    private var defaultTitle: String {
        var title = ""
        for character in "\(RDLMClient.Configuration.processTitle): \(command.joined(separator: " "))" {
            guard title.utf8.count + character.utf8.count <= 256 else { break }
            title.append(character)
        }
        return title
    }

    /// Acquires the lock, runs the command while `withLock` keeps the lease, and returns
    /// the command's status once the lock is released.
    private func runUnderLock(_ session: ExecSession) async throws -> Int32 {
        let lifetime = request.lifetime.map(Seconds.duration) ?? .seconds(60)
        let grace = Seconds.duration(killGrace)
        let resource = resource
        let command = command
        let title = request.title ?? defaultTitle
        let configuration = server.configuration(title: title)
        return try await RDLMClient.withClient(configuration: configuration) { client in
            try await client.withLock(
                resource, lifetime: lifetime, wait: Seconds.duration(request.wait), mode: request.mode
            ) { lock in
                var environment = ProcessInfo.processInfo.environment
                environment["RDLM_LOCK_URL"] = lock.url.absoluteString
                environment["RDLM_FENCING_TOKEN"] = lock.fencingToken.map(String.init)
                let child = try session.start(command, environment: environment)
                let status = await withTaskCancellationHandler {
                    await child.exitStatus()
                } onCancel: {
                    // withLock cancels the body only when the lock is lost.
                    session.stopAfterLoss(of: resource, grace: grace)
                }
                session.finish(status: status)
                return status
            }
        }
    }
}
