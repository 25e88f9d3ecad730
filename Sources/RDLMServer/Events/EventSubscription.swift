import NIOCore
import RDLMCore
import Synchronization

/// What a stream writes with, on its connection's event loop.
struct EventSink {
    var write: (ByteBuffer) -> Void
    /// Whether the connection takes more now (its write buffer is under the high mark).
    var isWritable: () -> Bool
    var close: () -> Void
    /// Writes the stream's last bytes and closes once they are out (or after a grace
    /// period, for a client that reads nothing at all).
    var finish: (ByteBuffer) -> Void
}

/// One client's `GET /events`: the encoded changes the hub hands it (bounded), written on
/// its connection's event loop whenever the connection can take them.
///
/// A consumer that reads too slowly only fills its own queue: past `bufferLimit` queued
/// changes (beyond one window's) the queue is dropped, the client gets a final `reset` and
/// the connection is closed, so it reconnects (with `Last-Event-ID`) when it can keep up.
final class EventSubscription: Sendable {
    let loop: any EventLoop
    /// `?resource=NAME`: only that resource's changes.
    let resource: String?
    private let settings: EventStreamSettings
    private let sink: NIOLoopBound<EventSink>
    private let onOverflow: @Sendable () -> Void

    private struct Pending {
        /// Encoded changes not yet written, and how many changes they hold.
        var chunks: [ByteBuffer] = []
        var changes = 0
        /// Whether the stream's first bytes are out: nothing is written before them.
        var started = false
        var flushScheduled = false
        var overflowed = false
        var closed = false
    }

    private let pending = Mutex(Pending())
    private let heartbeat: NIOLoopBoundBox<RepeatedTask?>

    /// Called on `loop`.
    init(loop: any EventLoop, resource: String?, settings: EventStreamSettings, sink: EventSink, onOverflow: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.resource = resource
        self.settings = settings
        self.sink = NIOLoopBound(sink, eventLoop: loop)
        self.onOverflow = onOverflow
        self.heartbeat = NIOLoopBoundBox(nil, eventLoop: loop)
    }

    func takes(_ record: EventRecord) -> Bool {
        resource == nil || record.activity.lock.resource == resource
    }

    /// Queues `changes` encoded changes; called by the hub, from its loop. The same buffer
    /// goes to every stream that takes all of them: it is shared, not copied.
    ///
    /// A stream with nothing unwritten takes a window however many changes it holds: those
    /// waited for the window, not for the client, and a busy daemon's window can hold more
    /// than `bufferLimit`. Only changes still queued when more come count against it.
    func deliver(_ chunk: ByteBuffer, changes: Int) {
        let schedule = pending.withLock { pending -> Bool in
            guard !pending.closed, !pending.overflowed else { return false }
            let behind = pending.changes > 0
            pending.changes += changes
            if behind, pending.changes > settings.bufferLimit {
                pending.overflowed = true
                pending.chunks = []
            } else {
                pending.chunks.append(chunk)
            }
            defer { pending.flushScheduled = true }
            return pending.started && !pending.flushScheduled
        }
        if schedule {
            loop.execute { self.flush() }
        }
    }

    /// Writes what the stream starts with, then what was queued meanwhile, and starts the
    /// heartbeat. On `loop`.
    func start(with opening: ByteBuffer) {
        var first = ByteBuffer(bytes: EventEncoding.retry)
        first.writeImmutableBuffer(opening)
        sink.value.write(first)
        pending.withLock { $0.started = true }
        flush()
        let interval = settings.heartbeat.timeAmount
        heartbeat.value = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            let sink = self.sink.value
            if sink.isWritable() { sink.write(ByteBuffer(bytes: EventEncoding.heartbeat)) }
        }
    }

    /// Writes the queued changes, if the connection takes them now; the connection calls
    /// it again when it becomes writable. On `loop`.
    func flush() {
        let sink = sink.value
        let overflowed = pending.withLock { $0.overflowed && !$0.closed }
        if overflowed {
            onOverflow()
            pending.withLock {
                $0.closed = true
                $0.chunks = []
            }
            stopHeartbeat()
            sink.finish(ByteBuffer(bytes: EventEncoding.reset("this client fell \(settings.bufferLimit) changes behind; reconnect, with Last-Event-ID to resume")))
            return
        }
        let writable = sink.isWritable()
        let chunks = pending.withLock { pending -> [ByteBuffer] in
            guard pending.started else { return [] }
            pending.flushScheduled = false
            guard writable, !pending.closed else { return [] }
            defer {
                pending.chunks = []
                pending.changes = 0
            }
            return pending.chunks
        }
        for chunk in chunks { sink.write(chunk) }
    }

    /// Ends the stream and closes its connection, after a final `reset` event when `reset`
    /// gives its reason; from any thread.
    func close(reset: String? = nil) {
        guard loop.inEventLoop else {
            loop.execute { self.close(reset: reset) }
            return
        }
        let first = pending.withLock { pending -> Bool in
            defer {
                pending.closed = true
                pending.chunks = []
            }
            return !pending.closed
        }
        stopHeartbeat()
        guard first else { return }
        if let reset {
            sink.value.finish(ByteBuffer(bytes: EventEncoding.reset(reset)))
        } else {
            sink.value.close()
        }
    }

    private func stopHeartbeat() {
        heartbeat.value?.cancel()
        heartbeat.value = nil
    }

    /// The connection went away: nothing more is written. On `loop`.
    func ended() {
        pending.withLock {
            $0.closed = true
            $0.chunks = []
        }
        stopHeartbeat()
    }
}
