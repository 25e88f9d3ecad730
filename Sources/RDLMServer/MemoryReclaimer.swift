import CSystemMemory
import Logging
import NIOCore
import Synchronization

/// Gives memory back to the system after the daemon shrinks. glibc keeps freed memory in
/// its arenas: after 10,000 parked waiters drained, rdlmd's RSS stayed at 4.8 times its
/// starting value (issue 6, scenario 3); `malloc_trim` returns those pages. Trimming walks
/// every arena, so it runs only when the load (open connections plus locks) has fallen by
/// at least half, and by at least 1,000, from its peak since the last trim.
///
/// It also fixes glibc's mmap and trim thresholds at start-up (see CSystemMemory.h), so
/// large temporary blocks, such as the listing of a resource with 10,000 waiters, go back
/// to the system as soon as they are freed.
final class MemoryReclaimer: Sendable {
    private struct State {
        var peak = 0
        var trimDue = false
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let load: @Sendable () -> Int
    private let compact: @Sendable () -> Void
    private let trim: @Sendable () -> Bool

    /// - Parameters:
    ///   - load: open connections plus locks, read on each check.
    ///   - compact: lets collections that grew for the crowd shrink, before the trim.
    ///   - trim: gives memory back; returns whether some was (glibc's `malloc_trim`).
    init(
        logger: Logger, load: @escaping @Sendable () -> Int, compact: @escaping @Sendable () -> Void = {},
        trim: @escaping @Sendable () -> Bool = { rdlm_memory_trim() != 0 }
    ) {
        self.logger = logger
        self.load = load
        self.compact = compact
        self.trim = trim
        rdlm_memory_configure()
    }

    /// Checks four times a second on `loop` (a check is two counter reads).
    func start(on loop: any EventLoop) -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { [self] _ in
            check()
        }
    }

    func check() {
        let current = load()
        let shouldTrim = state.withLock { state in
            // Closed connections are freed a little after they are counted out: trim on
            // the check after the one that saw the fall.
            if state.trimDue {
                state.trimDue = false
                return true
            }
            state.peak = max(state.peak, current)
            if state.peak - current >= max(1_000, state.peak / 2) {
                state.peak = current
                state.trimDue = true
            }
            return false
        }
        if shouldTrim {
            compact()
            let released = trim()
            logger.debug("load fell, memory trimmed", metadata: ["load": "\(current)", "released": "\(released)"])
        }
    }
}
