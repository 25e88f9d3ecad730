import NIOCore
import NIOPosix
import Synchronization

/// Where hash checks run: a small thread pool of its own, never an event loop (a bcrypt
/// check takes tens of milliseconds, which would stall every connection of that loop).
/// At most `capacity` checks are queued or running at once, whoever asks; one more is
/// refused at once (`reserve` fails), so a flood from many addresses cannot queue up
/// unbounded work.
final class PasswordChecks: Sendable {
    static let defaultThreads = max(1, min(4, System.coreCount / 2))
    static let defaultCapacity = 64

    let capacity: Int
    private let threads: Int
    /// Started at the first check, so a daemon without hashed lines runs no extra thread.
    private let pool = Mutex<Pool>(.notStarted)
    private let pending = Atomic<Int>(0)

    private enum Pool {
        case notStarted
        case running(NIOThreadPool)
        case stopped
    }

    /// Why a check could not run.
    struct Stopped: Error {}

    init(threads: Int = defaultThreads, capacity: Int = defaultCapacity) {
        self.capacity = max(1, capacity)
        self.threads = max(1, threads)
    }

    /// Checks queued or running now.
    var count: Int { pending.load(ordering: .relaxed) }

    /// Takes a place for one check; false when all `capacity` are taken.
    func reserve() -> Bool {
        var current = pending.load(ordering: .relaxed)
        while current < capacity {
            let (exchanged, original) = pending.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Runs `check` on the pool in a place `reserve` took, and gives that place back when
    /// it ends. The future completes on `loop`, exactly once: with the check's answer, or
    /// failed when the pool was shut down first.
    func run(on loop: any EventLoop, _ check: @escaping @Sendable () -> Bool) -> EventLoopFuture<Bool> {
        let started: NIOThreadPool? = pool.withLock { state in
            switch state {
            case .running(let pool):
                return pool
            case .notStarted:
                let pool = NIOThreadPool(numberOfThreads: threads)
                pool.start()
                state = .running(pool)
                return pool
            case .stopped:
                return nil
            }
        }
        let answer = started?.runIfActive(eventLoop: loop, check) ?? loop.makeFailedFuture(Stopped())
        answer.whenComplete { [self] _ in
            pending.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        }
        return answer
    }

    /// Stops the threads once the checks under way are done; later ones fail at once.
    func shutdown() async {
        let running: NIOThreadPool? = pool.withLock { state in
            defer { state = .stopped }
            if case .running(let pool) = state { return pool }
            return nil
        }
        try? await running?.shutdownGracefully()
    }
}
