import NIOCore
import RDLMCore
import Synchronization

/// What a stream writes with, on its connection's event loop.
struct EventSink {
    var write: ([UInt8]) -> Void
    /// Whether the connection takes more now (its write buffer is under the high mark).
    var isWritable: () -> Bool
    var close: () -> Void
    /// Writes the stream's last bytes and closes once they are out (or after a grace
    /// period, for a client that reads nothing at all).
    var finish: ([UInt8]) -> Void
}

/// One client's `GET /events`: the changes queued for it by the hub (bounded), written on
/// its connection's event loop whenever the connection can take them.
///
/// A consumer that reads too slowly only fills its own queue: at `bufferLimit` queued
/// changes the queue is dropped, the client gets a final `reset` and the connection is
/// closed, so it reconnects (with `Last-Event-ID`) when it can keep up.
final class EventSubscription: Sendable {
    let loop: any EventLoop
    /// `?resource=NAME`: only that resource's changes.
    let resource: String?
    private let epoch: String
    private let settings: EventStreamSettings
    private let sink: NIOLoopBound<EventSink>
    private let onOverflow: @Sendable () -> Void

    private struct Pending {
        var records: [EventRecord] = []
        var flushScheduled = false
        var overflowed = false
        var closed = false
    }

    private let pending = Mutex(Pending())
    private let heartbeat: NIOLoopBoundBox<RepeatedTask?>

    /// Called on `loop`.
    init(loop: any EventLoop, resource: String?, epoch: String, settings: EventStreamSettings, sink: EventSink, onOverflow: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.resource = resource
        self.epoch = epoch
        self.settings = settings
        self.sink = NIOLoopBound(sink, eventLoop: loop)
        self.onOverflow = onOverflow
        self.heartbeat = NIOLoopBoundBox(nil, eventLoop: loop)
    }

    func takes(_ record: EventRecord) -> Bool {
        resource == nil || record.activity.lock.resource == resource
    }

    /// Queues changes; called by the hub under its lock, from any thread. They are written
    /// `settings.coalescing` later, with whatever else arrived meanwhile: one write for
    /// many changes, on a stream that may carry tens of thousands a second.
    func enqueue(_ records: [EventRecord]) {
        let schedule = pending.withLock { pending -> Bool in
            guard !pending.closed, !pending.overflowed else { return false }
            let count = pending.records.count
            if resource == nil {
                pending.records += records
            } else {
                pending.records += records.lazy.filter { self.takes($0) }
            }
            guard pending.records.count > count else { return false }
            if pending.records.count > settings.bufferLimit {
                pending.overflowed = true
                pending.records = []
            }
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if schedule {
            loop.scheduleTask(in: settings.coalescing.timeAmount) { self.flush() }
        }
    }

    /// Writes what the stream starts with, then starts the heartbeat. On `loop`.
    func start(with bytes: [UInt8]) {
        sink.value.write(EventEncoding.retry + bytes)
        let interval = settings.heartbeat.timeAmount
        heartbeat.value = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            let sink = self.sink.value
            if sink.isWritable() { sink.write(EventEncoding.heartbeat) }
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
                $0.records = []
            }
            stopHeartbeat()
            sink.finish(EventEncoding.reset("this client fell \(settings.bufferLimit) changes behind; reconnect, with Last-Event-ID to resume"))
            return
        }
        guard sink.isWritable() else {
            pending.withLock { $0.flushScheduled = false }
            return
        }
        let records = pending.withLock { pending -> [EventRecord] in
            defer {
                pending.records = []
                pending.flushScheduled = false
            }
            return pending.closed ? [] : pending.records
        }
        guard !records.isEmpty else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count * 512)
        for record in records { bytes += record.bytes(epoch: epoch) }
        sink.write(bytes)
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
                pending.records = []
            }
            return !pending.closed
        }
        stopHeartbeat()
        guard first else { return }
        if let reset {
            sink.value.finish(EventEncoding.reset(reset))
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
            $0.records = []
        }
        stopHeartbeat()
    }
}
