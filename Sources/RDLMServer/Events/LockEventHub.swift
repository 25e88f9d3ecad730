import DequeModule
import NIOCore
import RDLMCore
import Synchronization

/// How the event stream is bounded.
public struct EventStreamSettings: Sendable, Equatable {
    /// Events kept for clients that reconnect with `Last-Event-ID`.
    public var historyLimit = 10_000
    /// Events one stream may have queued, not yet taken by its client; past it the stream
    /// gets a final `reset` and is closed.
    public var bufferLimit = 4_096
    /// A comment line this often keeps proxies from cutting an idle stream.
    public var heartbeat: Duration = .seconds(15)
    /// At most one hand-out to the streams this often: a change after a quiet spell is
    /// written at once, one in a busy spell waits at most this long, with the ones after it.
    /// Each hand-out wakes every stream's client, which on a busy daemon's cores costs more
    /// than its bytes.
    public var coalescing: Duration = .milliseconds(100)

    public init() {}
}

/// One change, numbered, as the streams share it: encoded once, when it is first handed
/// out or replayed, and kept in the history for clients that come back.
final class EventRecord: Sendable {
    let sequence: UInt64
    let activity: LockActivity
    private let encoded = Mutex<[UInt8]?>(nil)

    init(sequence: UInt64, activity: LockActivity) {
        self.sequence = sequence
        self.activity = activity
    }

    /// The changes, one after another, as a stream sends them.
    static func encode(_ records: some Collection<EventRecord>, epoch: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(records.count * 512)
        for record in records { buffer.writeBytes(record.bytes(epoch: epoch)) }
        return buffer
    }

    func bytes(epoch: String) -> [UInt8] {
        encoded.withLock { cached in
            if let cached { return cached }
            let bytes = EventEncoding.change(activity, id: EventEncoding.id(epoch: epoch, sequence: sequence))
            cached = bytes
            return bytes
        }
    }
}

/// The live feed of `GET /events`: every `LockActivity` the lock service publishes, in its
/// order, numbered and kept in a bounded history, and handed to every stream whose filter
/// takes it.
///
/// The service publishes under its own lock (so numbers follow the table's order), and
/// subscribes a stream under the same lock while it takes the snapshot, so a stream sees
/// exactly the changes after its snapshot. Publishing only appends: the changes of each
/// window (at most one per `settings.coalescing`) are encoded on the hub's own loop, once,
/// into one buffer that every unfiltered stream shares; so lock handling waits for no
/// client, and ten streams cost ten writes of one buffer, not ten encodings. Lock order:
/// the service's lock, then this one, then a subscription's.
final class LockEventHub: Sendable {
    let settings: EventStreamSettings
    /// Tells this process's event ids from a predecessor's, whose numbers meant other events.
    let epoch: String
    /// Where the windows are encoded and handed out.
    private let loop: any EventLoop

    private struct Subscriber {
        let subscription: EventSubscription
        /// The stream's opening covers the changes up to this one.
        let after: UInt64
    }

    private struct State {
        var nextSequence: UInt64 = 1
        var history = Deque<EventRecord>()
        var subscriptions: [ObjectIdentifier: Subscriber] = [:]
        /// Published since the last hand-out, while there were streams to take them.
        var window: [EventRecord] = []
        var handOutScheduled = false
        var lastHandOut = NIODeadline.distantPast
    }

    private let state = Mutex(State())

    init(settings: EventStreamSettings, loop: any EventLoop) {
        self.settings = settings
        self.loop = loop
        self.epoch = String(LockID.random().description.prefix(8))
    }

    var subscriberCount: Int { state.withLock { $0.subscriptions.count } }

    /// Appends changes; called by the lock service under its lock, in its order.
    func publish(_ activities: [LockActivity]) {
        guard !activities.isEmpty else { return }
        let due = state.withLock { state -> NIODeadline? in
            let first = state.history.count
            for activity in activities {
                state.history.append(EventRecord(sequence: state.nextSequence, activity: activity))
                state.nextSequence += 1
            }
            if !state.subscriptions.isEmpty {
                state.window += state.history[first...]
            }
            if state.history.count > settings.historyLimit {
                state.history.removeFirst(state.history.count - settings.historyLimit)
            }
            guard !state.window.isEmpty, !state.handOutScheduled else { return nil }
            state.handOutScheduled = true
            return state.lastHandOut + settings.coalescing.timeAmount
        }
        if let due {
            // After a quiet spell the deadline has passed: the hand-out runs at once.
            loop.scheduleTask(deadline: due) { self.handOut() }
        }
    }

    /// Encodes the window's changes and gives them to the streams: one shared buffer for
    /// every stream that takes them all, a buffer of its own for a filtered stream or one
    /// that opened during the window. On `loop`.
    private func handOut() {
        let (records, subscribers) = state.withLock { state in
            defer {
                state.window = []
                state.handOutScheduled = false
                state.lastHandOut = .now()
            }
            return (state.window, Array(state.subscriptions.values))
        }
        guard let first = records.first?.sequence else { return }
        var all: ByteBuffer?
        for subscriber in subscribers {
            let subscription = subscriber.subscription
            if subscription.resource == nil, subscriber.after < first {
                if all == nil { all = EventRecord.encode(records, epoch: epoch) }
                subscription.deliver(all!, changes: records.count)
            } else {
                let mine = records.filter { $0.sequence > subscriber.after && subscription.takes($0) }
                if !mine.isEmpty { subscription.deliver(EventRecord.encode(mine, epoch: epoch), changes: mine.count) }
            }
        }
    }

    /// What a new stream starts with, as the hub decides it.
    enum Start {
        /// A snapshot of the current state (a new client, or one that missed too much).
        case snapshot(id: String, reset: Bool)
        /// The changes it missed, from the history.
        case replay([EventRecord])
    }

    /// `Start` with the snapshot the lock service took, when one is needed.
    enum Opening: Sendable {
        case snapshot(id: String, reset: Bool, resources: [(name: String, locks: [LockInfo])], time: ContinuousClock.Instant)
        case replay([EventRecord])

        /// The stream's first bytes.
        func encoded(epoch: String) -> ByteBuffer {
            switch self {
            case .snapshot(let id, let reset, let resources, let time):
                let snapshot = EventEncoding.snapshot(resources, id: id, time: time)
                return ByteBuffer(bytes: reset ? EventEncoding.reset("the history no longer reaches back to Last-Event-ID; a snapshot follows") + snapshot : snapshot)
            case .replay(let records):
                return EventRecord.encode(records, epoch: epoch)
            }
        }
    }

    /// Registers `subscription`; called by the lock service under its lock, with the
    /// snapshot it will send if one is needed. `lastEventID` is the client's
    /// `Last-Event-ID`: the changes after it are replayed when the history still has them.
    func subscribe(_ subscription: EventSubscription, lastEventID: String?) -> Start {
        state.withLock { state in
            state.subscriptions[ObjectIdentifier(subscription)] = Subscriber(subscription: subscription, after: state.nextSequence - 1)
            let current = EventEncoding.id(epoch: epoch, sequence: state.nextSequence - 1)
            guard let lastEventID else { return .snapshot(id: current, reset: false) }
            guard let seen = EventEncoding.sequence(of: lastEventID, epoch: epoch), seen < state.nextSequence,
                  seen + 1 >= (state.history.first?.sequence ?? state.nextSequence) else {
                return .snapshot(id: current, reset: true)
            }
            return .replay(state.history.filter { $0.sequence > seen && subscription.takes($0) })
        }
    }

    func unsubscribe(_ subscription: EventSubscription) {
        _ = state.withLock { $0.subscriptions.removeValue(forKey: ObjectIdentifier(subscription)) }
    }

    /// Ends every stream with a final `reset`, and forgets the history: the changes from now
    /// on do not follow the ones before (the etcd watch behind them was interrupted), so no
    /// `Last-Event-ID` from before resumes; a client that comes back gets a snapshot.
    func resetAll(_ reason: String) {
        let all = state.withLock { state in
            defer {
                state.subscriptions = [:]
                state.history = []
                state.window = []
                // The last id given out no longer resumes with an empty replay.
                state.nextSequence += 1
            }
            return state.subscriptions.values.map(\.subscription)
        }
        for subscription in all { subscription.close(reset: reason) }
    }

    /// Ends every stream (shutdown).
    func closeAll() {
        let all = state.withLock { state in
            defer {
                state.subscriptions = [:]
                state.window = []
            }
            return state.subscriptions.values.map(\.subscription)
        }
        for subscription in all { subscription.close() }
    }
}
