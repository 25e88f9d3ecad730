import Foundation
import Synchronization

/// The state `rdlm exec`'s signal handler and its lock-holding task share: waiting for
/// the lock, running the command, or done.
final class ExecSession: Sendable {
    private enum Phase {
        case waiting
        case interrupted(signal: Int32)
        case running(ChildProcess)
        case done(status: Int32)
    }

    private struct State {
        var phase = Phase.waiting
        var reportedLoss = false
        var interruption: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// A signal for `rdlm`: forwarded to a running command, or it interrupts the wait for
    /// the lock. Signals after the command ended are ignored while the lock is released.
    func deliver(_ number: Int32) {
        let interruption: CheckedContinuation<Void, Never>? = state.withLock { state in
            switch state.phase {
            case .waiting:
                state.phase = .interrupted(signal: number)
                defer { state.interruption = nil }
                return state.interruption
            case .running(let child):
                child.send(number)
                return nil
            case .interrupted, .done:
                return nil
            }
        }
        interruption?.resume()
    }

    /// Returns when a signal interrupts the wait for the lock, or when the task is cancelled.
    func waitInterrupted() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if case .waiting = state.phase, !Task.isCancelled {
                        state.interruption = continuation
                        return false
                    }
                    return true
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state in
                defer { state.interruption = nil }
                return state.interruption
            }
            continuation?.resume()
        }
    }

    /// The signal that interrupted the wait, if one did.
    var interruptingSignal: Int32? {
        state.withLock { state in
            if case .interrupted(let signal) = state.phase { return signal }
            return nil
        }
    }

    /// Spawns the command, unless a signal interrupted the wait meanwhile: then the lock
    /// just granted is released instead.
    func start(_ command: [String], environment: [String: String]) throws -> ChildProcess {
        try state.withLock { state in
            guard case .waiting = state.phase else { throw CancellationError() }
            let child = try ChildProcess.spawn(command, environment: environment)
            state.phase = .running(child)
            return child
        }
    }

    /// Stops the command after the lock was lost: SIGTERM now, SIGKILL after `grace`.
    func stopAfterLoss(of resource: String, grace: Duration) {
        let child: ChildProcess? = state.withLock { state in
            guard case .running(let child) = state.phase, !state.reportedLoss else { return nil }
            state.reportedLoss = true
            return child
        }
        guard let child else { return }
        FileHandle.standardError.write(Data(
            "rdlm: lost the lock on '\(resource)' while the command ran (deleted by an admin, or not renewed in time): stopping pid \(child.pid) with SIGTERM, SIGKILL in \(Seconds.text(grace))\n".utf8))
        child.send(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + grace.seconds) {
            if child.send(SIGKILL) {
                FileHandle.standardError.write(Data("rdlm: pid \(child.pid) outlived its \(Seconds.text(grace)) grace: sent SIGKILL\n".utf8))
            }
        }
    }

    func finish(status: Int32) {
        state.withLock { $0.phase = .done(status: status) }
    }

    /// Whether the loss of the lock was already reported on stderr.
    var reportedLoss: Bool { state.withLock { $0.reportedLoss } }

    /// The command's status, once it has ended.
    var commandStatus: Int32? {
        state.withLock { state in
            if case .done(let status) = state.phase { return status }
            return nil
        }
    }
}
