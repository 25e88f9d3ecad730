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
    }

    /// The event's id, `EPOCH-N`.
    public let id: String
    public let kind: Kind
    /// When it happened, by the daemon's wall clock (to the microsecond).
    public let time: Date?
    /// The resource's name.
    public let resource: String
    /// The lock as it is after the change (as it was, for one that is gone).
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

struct ResetDocument: Decodable {
    var reason: String?
}

extension RDLMEvent {
    /// The typed event of one message from `base`, nil for message types this client does
    /// not know (ignored, as EventSource ignores them).
    /// - Throws: ``RDLMError/unexpectedResponse`` when a known message's data is not the
    ///   JSON it should be.
    init?(_ message: ServerSentEvent, base: String, request: String) throws(RDLMError) {
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
            let document = try decode(ChangeDocument.self)
            guard let lock = details(document.lock, resource: document.resource) else {
                throw .unexpectedResponse("a '\(message.type)' event names no lock URL", status: 200, request: request)
            }
            self = .change(RDLMChange(
                id: message.lastEventID, kind: kind, time: document.time.flatMap(ServerTimestamp.parse),
                resource: document.resource, lock: lock, json: message.data))
        }
    }
}
