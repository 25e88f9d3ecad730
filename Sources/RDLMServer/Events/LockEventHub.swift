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
    /// How long a change may wait to be written with the ones after it.
    public var coalescing: Duration = .milliseconds(20)

    public init() {}
}

/// One change, numbered, as the streams share it: encoded once, by the first stream that
/// sends it, and kept in the history for clients that come back.
final class EventRecord: Sendable {
    let sequence: UInt64
    let activity: LockActivity
    private let encoded = Mutex<[UInt8]?>(nil)

    init(sequence: UInt64, activity: LockActivity) {
        self.sequence = sequence
        self.activity = activity
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
/// exactly the changes after its snapshot. Publishing only appends: nothing is encoded or
/// written here, so lock handling does not wait for any client. Lock order: the service's
/// lock, then this one, then a subscription's.
final class LockEventHub: Sendable {
    let settings: EventStreamSettings
    /// Tells this process's event ids from a predecessor's, whose numbers meant other events.
    let epoch: String

    private struct State {
        var nextSequence: UInt64 = 1
        var history = Deque<EventRecord>()
        var subscriptions: [ObjectIdentifier: EventSubscription] = [:]
    }

    private let state = Mutex(State())

    init(settings: EventStreamSettings) {
        self.settings = settings
        self.epoch = String(LockID.random().description.prefix(8))
    }

    var subscriberCount: Int { state.withLock { $0.subscriptions.count } }

    /// Appends changes; called by the lock service under its lock, in its order.
    func publish(_ activities: [LockActivity]) {
        guard !activities.isEmpty else { return }
        state.withLock { state in
            var records: [EventRecord] = []
            records.reserveCapacity(activities.count)
            for activity in activities {
                records.append(EventRecord(sequence: state.nextSequence, activity: activity))
                state.nextSequence += 1
            }
            state.history.append(contentsOf: records)
            if state.history.count > settings.historyLimit {
                state.history.removeFirst(state.history.count - settings.historyLimit)
            }
            for subscription in state.subscriptions.values {
                subscription.enqueue(records)
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
        func encoded(epoch: String) -> [UInt8] {
            switch self {
            case .snapshot(let id, let reset, let resources, let time):
                let snapshot = EventEncoding.snapshot(resources, id: id, time: time)
                return reset ? EventEncoding.reset("the history no longer reaches back to Last-Event-ID; a snapshot follows") + snapshot : snapshot
            case .replay(let records):
                return records.flatMap { $0.bytes(epoch: epoch) }
            }
        }
    }

    /// Registers `subscription`; called by the lock service under its lock, with the
    /// snapshot it will send if one is needed. `lastEventID` is the client's
    /// `Last-Event-ID`: the changes after it are replayed when the history still has them.
    func subscribe(_ subscription: EventSubscription, lastEventID: String?) -> Start {
        state.withLock { state in
            state.subscriptions[ObjectIdentifier(subscription)] = subscription
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
                // The last id given out no longer resumes with an empty replay.
                state.nextSequence += 1
            }
            return Array(state.subscriptions.values)
        }
        for subscription in all { subscription.close(reset: reason) }
    }

    /// Ends every stream (shutdown).
    func closeAll() {
        let all = state.withLock { state in
            defer { state.subscriptions = [:] }
            return Array(state.subscriptions.values)
        }
        for subscription in all { subscription.close() }
    }
}
