import Foundation
import Synchronization

/// The command `rdlm exec` runs: spawned directly with `posix_spawnp` (no shell), waited
/// for on a thread of its own, and signalled only while it has not been reaped, so that a
/// signal never reaches another process that reused its pid.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// True from the moment the child is known to have ended, before it is reaped.
    private let hasEnded = Mutex(false)

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `arguments[0]`, looked up in `PATH` like `execvp`, with `environment`, the
    /// caller's signal mask and default signal actions, and the caller's descriptors.
    /// - Throws: a failure with status 127 (not found) or 126 (cannot be run).
    static func spawn(_ arguments: [String], environment: [String: String]) throws(CLIFailure) -> ChildProcess {
        #if canImport(Glibc)
        var attributes = posix_spawnattr_t()
        #else
        var attributes: posix_spawnattr_t? = nil
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in InheritedState.defaultSignals { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = InheritedState.signalMask
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        InheritedState.closeOwnDescriptorsOnExec()
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            if result == ENOENT {
                throw CLIFailure("command not found: \(arguments[0])", status: .commandNotFound)
            }
            throw CLIFailure("cannot run \(arguments[0]): \(reason)", status: .cannotExecute)
        }
        return ChildProcess(pid: pid)
    }

    /// Finds `command` as `execvp` would, to refuse a missing command before waiting for
    /// a lock. Names with a slash are taken as paths.
    static func check(_ command: String) throws(CLIFailure) {
        let candidates: [String]
        if command.contains("/") {
            candidates = [command]
        } else {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            candidates = path.split(separator: ":", omittingEmptySubsequences: false)
                .map { ($0.isEmpty ? "." : String($0)) + "/" + command }
        }
        var found: String?
        for candidate in candidates {
            var info = stat()
            guard stat(candidate, &info) == 0, info.st_mode & S_IFMT != S_IFDIR else { continue }
            if access(candidate, X_OK) == 0 { return }
            found = found ?? candidate
        }
        if let found {
            throw CLIFailure("cannot run \(found): permission denied", status: .cannotExecute)
        }
        throw CLIFailure("command not found: \(command)", status: .commandNotFound)
    }

    /// Sends `number` unless the child has ended. Returns whether it was sent.
    @discardableResult
    func send(_ number: Int32) -> Bool {
        hasEnded.withLock { ended in
            guard !ended else { return false }
            return kill(pid, number) == 0
        }
    }

    /// Waits for the child to end and reaps it: its exit status, or 128+N when signal N
    /// killed it. Call once.
    func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            let thread = Thread { [self] in
                // Wait without reaping, mark the child ended, then reap: `send` never
                // signals a pid that may have been reused.
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
                hasEnded.withLock { $0 = true }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                continuation.resume(returning: Self.decode(status))
            }
            thread.name = "rdlm child \(pid)"
            thread.start()
        }
    }

    /// `WIFEXITED`/`WEXITSTATUS`/`WTERMSIG`, which Swift does not import (they are macros).
    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : ExitStatus.signaled(signal)
    }
}
