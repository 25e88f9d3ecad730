import NIOCore

/// The connections of one event loop, checked for request and idle timeouts by one
/// repeating task per loop rather than a timer per connection: a `RepeatedTask` with its
/// scheduled task, promise and closures per connection was a large share of a parked
/// waiter's memory (docs/benchmarks.md, Profile). Handlers link
/// themselves in (an intrusive list: adding and removing allocate nothing).
///
/// Used only on its event loop.
final class ConnectionSweeper {
    private var first: ConnectionHandler?
    /// The `Date` header's value, shared by the loop's connections.
    let dateHeader = DateHeader()

    func add(_ handler: ConnectionHandler) {
        handler.sweepNext = first
        first?.sweepPrevious = handler
        first = handler
    }

    func remove(_ handler: ConnectionHandler) {
        if let previous = handler.sweepPrevious {
            previous.sweepNext = handler.sweepNext
        } else if first === handler {
            first = handler.sweepNext
        }
        handler.sweepNext?.sweepPrevious = handler.sweepPrevious
        handler.sweepNext = nil
        handler.sweepPrevious = nil
    }

    /// Lets every connection check its deadlines; a handler may remove itself meanwhile.
    func sweep(now: NIODeadline) {
        var next = first
        while let handler = next {
            next = handler.sweepNext
            handler.checkProgress(now: now)
        }
    }

    /// The sweep interval: a quarter of the shorter timeout, so a timeout fires at most a
    /// quarter late (and no more often than every 10 ms).
    static func interval(for limits: RequestLimits) -> TimeAmount {
        .nanoseconds(max(10_000_000, min(limits.requestTimeout.nanoseconds, limits.idleTimeout.nanoseconds) / 4))
    }
}

/// The sweepers of all event loops, found by the loop a connection runs on.
struct ConnectionSweepers: Sendable {
    /// Each loop's sweeper, made on first use on that loop.
    private let sweepers: [ObjectIdentifier: NIOLoopBoundBox<ConnectionSweeper?>]
    /// The repeating sweeps, one per loop (cancelled when the server stops).
    let tasks: [RepeatedTask]

    /// Starts one sweep per event loop of `group`.
    init(group: any EventLoopGroup, interval: TimeAmount) {
        var sweepers: [ObjectIdentifier: NIOLoopBoundBox<ConnectionSweeper?>] = [:]
        var tasks: [RepeatedTask] = []
        for loop in group.makeIterator() {
            let box = NIOLoopBoundBox.makeEmptyBox(valueType: ConnectionSweeper.self, eventLoop: loop)
            sweepers[ObjectIdentifier(loop)] = box
            tasks.append(loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                box.value?.sweep(now: .now())
            })
        }
        self.sweepers = sweepers
        self.tasks = tasks
    }

    /// The sweeper of `loop`; call on that loop.
    func sweeper(on loop: any EventLoop) -> ConnectionSweeper? {
        guard let box = sweepers[ObjectIdentifier(loop)] else { return nil }
        if let sweeper = box.value { return sweeper }
        let sweeper = ConnectionSweeper()
        box.value = sweeper
        return sweeper
    }

    func cancel() {
        for task in tasks { task.cancel() }
    }
}
