import Foundation
import Synchronization

/// What `rdlm` got from its caller, recorded at start-up before anything changes it, so
/// that `rdlm exec` hands its command the same: the signal mask, the signals the caller
/// left at their default action, and the open file descriptors.
enum InheritedState {
    private struct Recorded {
        var signalMask = sigset_t()
        var defaultSignals: [Int32] = []
        var descriptors: Set<Int32> = []
    }

    private static let recorded = Mutex(Recorded())

    /// The signals `rdlm` takes over (to forward or to stop a benchmark) when its caller
    /// did not ignore them. A background job of a non-interactive shell ignores INT, and
    /// then so do `rdlm` and its command.
    static let catchable: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Call first thing in `main`.
    static func record() {
        var state = Recorded()
        pthread_sigmask(SIG_SETMASK, nil, &state.signalMask)
        state.defaultSignals = (catchable + [SIGPIPE]).filter(isDefault)
        state.descriptors = openDescriptors()
        recorded.withLock { $0 = state }
    }

    /// The caller's signal mask: a thread of the Swift runtime may block more.
    static var signalMask: sigset_t { recorded.withLock { $0.signalMask } }

    /// The signals whose action was the default when `rdlm` started: its command gets the
    /// default action for them again, even if `rdlm` (or libcurl, for SIGPIPE) ignores them.
    static var defaultSignals: [Int32] { recorded.withLock { $0.defaultSignals } }

    /// Marks every descriptor that `rdlm` opened itself (connections to the server, the
    /// client's wake-up pipe) close-on-exec, so its command inherits only the caller's.
    static func closeOwnDescriptorsOnExec() {
        let inherited = recorded.withLock { $0.descriptors }
        for descriptor in openDescriptors().subtracting(inherited) {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    private static func isDefault(_ signal: Int32) -> Bool {
        var action = sigaction()
        guard sigaction(signal, nil, &action) == 0 else { return false }
        #if canImport(Glibc)
        let handler = action.__sigaction_handler.sa_handler
        #else
        let handler = action.__sigaction_u.__sa_handler
        #endif
        return handler.map { unsafeBitCast($0, to: Int.self) == 0 } ?? true
    }

    /// The descriptors open now, from /proc/self/fd (or /dev/fd).
    private static func openDescriptors() -> Set<Int32> {
        #if os(Linux)
        let folder = "/proc/self/fd"
        #else
        let folder = "/dev/fd"
        #endif
        guard let directory = opendir(folder) else { return [0, 1, 2] }
        var found = Set<Int32>()
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let descriptor = Int32(name) { found.insert(descriptor) }
        }
        closedir(directory)
        // The directory's own descriptor was in the list and is closed now.
        return found.filter { fcntl($0, F_GETFD) != -1 }
    }
}
