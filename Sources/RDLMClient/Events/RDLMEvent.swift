import Foundation

/// What ``RDLMClient/events(resource:idleTimeout:)`` yields: the daemon's `GET /events`
/// stream as typed values, plus a note each time the client has to reconnect.
public enum RDLMEvent: Sendable, Hashable {
    /// Every lock there is now: the first event of a stream, and again after a ``reset(reason:)``.
    case snapshot(RDLMSnapshot)
    /// One change to one lock, in the order the daemon made them.
    case change(RDLMChange)
    /// What the client knew is out of date (the daemon restarted, or its history no longer
    /// reaches back to the last event seen): a snapshot follows. `reason` is the daemon's.
    case reset(reason: String)
    /// The stream was lost or could not be opened (`reason` says why); the client tries
    /// again after `after`, resuming with `Last-Event-ID`. Not sent by the daemon.
    case reconnecting(reason: String, after: Duration)
}

/// The locks of every resource (or of the one watched) at one moment.
public struct RDLMSnapshot: Sendable, Hashable {
    /// The event's id, `EPOCH-N`: the changes after it follow.
    public let id: String
    /// When the daemon took it, by its wall clock.
    public let time: Date?
    /// Every lock: resource by resource in name order, each resource's holders first, then
    /// its waiters in queue order.
    public let locks: [LockDetails]
    /// The event's data as the daemon sent it (one JSON object), for tools that pass it on.
    public let json: String
}

/// One change to one lock.
public struct RDLMChange: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A request joined the queue.
        case waiting
        /// A request became a holder, at once or after waiting.
        case granted
        /// A holder's lock was released (its URL deleted).
        case released
        /// A holder's lease ran out.
        case expired
        /// A holder's lease was renewed.
        case refreshed
        /// A waiting request left: its client went away, its wait ran out, or its URL was deleted.
        case withdrawn
        /// An admin deleted the lock or request.
        case deleted

        /// Whether the lock is gone after it: the daemon then sends only its uid, title,
        /// mode and fencing token, and the client completes it from what the stream showed.
        var ends: Bool {
            switch self {
            case .waiting, .granted, .refreshed: false
            case .released, .expired, .withdrawn, .deleted: true
            }
        }
    }

    /// The event's id, `EPOCH-N`.
    public let id: String
    public let kind: Kind
    /// When it happened, by the daemon's wall clock (to the microsecond).
    public let time: Date?
    /// The resource's name.
    public let resource: String
    /// The lock as it is after the change; for one that is gone, as the stream last showed it.
    public let lock: LockDetails
    /// The event's data as the daemon sent it (one JSON object), for tools that pass it on.
    public let json: String
}

/// The data of the `/events` messages (see API-CONTRACT.md).
struct SnapshotDocument: Decodable {
    struct Resource: Decodable {
        var name: String
        var locks: [LockDocument]
    }

    var time: String?
    var resources: [Resource]
}

struct ChangeDocument: Decodable {
    var event: String
    var time: String?
    var resource: String
    var lock: LockDocument
}

/// A change after which the lock is gone: its lock has only `uid`, `title`, `mode`,
/// `active` and `fencing_token`.
struct EndingDocument: Decodable {
    struct Lock: Decodable {
        var uid: String
        var title: String
        var mode: String?
        var active: Bool
        var fencingToken: UInt64?

        enum CodingKeys: String, CodingKey {
            case uid, title, mode, active
            case fencingToken = "fencing_token"
        }

        /// For a lock the stream had not shown (it shows every lock there is, so only from
        /// a daemon that does not): no lifetime, wait or times.
        func details(resource: String, url: URL) -> LockDetails {
            LockDetails(
                url: url, resource: resource, uid: uid, title: title, lifetime: .zero, wait: .zero,
                mode: mode.flatMap(LockMode.init(rawValue:)) ?? .exclusive, isActive: active,
                activeSince: nil, activeExpires: nil, waitSince: nil, waitExpires: nil, fencingToken: fencingToken)
        }
    }

    var time: String?
    var resource: String
    var lock: Lock
}

struct ResetDocument: Decodable {
    var reason: String?
}

extension RDLMEvent {
    /// The typed event of one message from `base`, nil for message types this client does
    /// not know (ignored, as EventSource ignores them). `shown` is the locks the stream has
    /// shown and that are not gone, by uid: what a change that ends a lock is completed with.
    /// - Throws: ``RDLMError/unexpectedResponse`` when a known message's data is not the
    ///   JSON it should be.
    init?(_ message: ServerSentEvent, base: String, request: String, shown: [String: LockDetails]) throws(RDLMError) {
        let data = Data(message.data.utf8)
        func decode<Document: Decodable>(_ type: Document.Type) throws(RDLMError) -> Document {
            do {
                return try JSONDecoder().decode(type, from: data)
            } catch {
                throw .unexpectedResponse("a '\(message.type)' event's data is not the expected JSON (\(error)): \(message.data.prefix(200))", status: 200, request: request)
            }
        }
        func details(_ lock: LockDocument, resource: String) -> LockDetails? {
            lock.details(resource: resource, baseURL: base, fallbackURL: URL(string: "\(base)/locks/\(resource)/\(lock.uid)"))
        }
        switch message.type {
        case "snapshot":
            let document = try decode(SnapshotDocument.self)
            let locks = document.resources.flatMap { resource in resource.locks.compactMap { details($0, resource: resource.name) } }
            self = .snapshot(RDLMSnapshot(
                id: message.lastEventID, time: document.time.flatMap(ServerTimestamp.parse), locks: locks, json: message.data))
        case "reset":
            self = .reset(reason: try decode(ResetDocument.self).reason ?? "")
        default:
            guard let kind = RDLMChange.Kind(rawValue: message.type) else { return nil }
            let (time, resource, lock): (String?, String, LockDetails?)
            if kind.ends {
                let document = try decode(EndingDocument.self)
                (time, resource) = (document.time, document.resource)
                lock = shown[document.lock.uid] ?? URL(string: "\(base)/locks/\(resource)/\(document.lock.uid)").map {
                    document.lock.details(resource: resource, url: $0)
                }
            } else {
                let document = try decode(ChangeDocument.self)
                (time, resource, lock) = (document.time, document.resource, details(document.lock, resource: document.resource))
            }
            guard let lock else {
                throw .unexpectedResponse("a '\(message.type)' event names no lock URL", status: 200, request: request)
            }
            self = .change(RDLMChange(
                id: message.lastEventID, kind: kind, time: time.flatMap(ServerTimestamp.parse),
                resource: resource, lock: lock, json: message.data))
        }
    }
}
