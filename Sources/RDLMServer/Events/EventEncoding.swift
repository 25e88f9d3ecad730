import RDLMCore

/// The Server-Sent Events of `GET /events` (the WHATWG HTML standard's `text/event-stream`):
/// `id`, `event` and one `data` line of compact JSON (which never holds a line break:
/// strings are escaped), then a blank line.
enum EventEncoding {
    /// `EPOCH-SEQUENCE`: the epoch tells a restarted daemon's numbers from the last one's.
    static func id(epoch: String, sequence: UInt64) -> String {
        "\(epoch)-\(sequence)"
    }

    /// The sequence number of an id this process gave, or nil (another process's, or junk).
    static func sequence(of id: String, epoch: String) -> UInt64? {
        let parts = id.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == epoch else { return nil }
        return UInt64(parts[1])
    }

    /// One change: `{"event", "time", "resource", "lock": {...}}`. The lock as `GET` of its
    /// URL shows it, without `_links` (its URL is `/locks/RESOURCE/UID`), when it is queued,
    /// granted or refreshed; only its uid, title, mode, `active` and fencing token when it is
    /// gone: every stream has shown the rest already (in its snapshot or a change before).
    static func change(_ activity: LockActivity, id: String) -> [UInt8] {
        let clock = WallClock()
        var json = JSONWriter()
        json.beginObject()
        json.field("event", activity.kind.rawValue)
        json.field("time") { clock.appendTimestamp(activity.at, to: &$0) }
        json.field("resource", activity.lock.resource)
        LockRepresentation.write(activity.lock, clock: clock, detail: activity.kind.endsLock ? .ended : .unlinked, key: "lock", into: &json)
        json.endObject()
        return frame(event: activity.kind.rawValue, id: id, data: json.bytes)
    }

    /// Every resource with its locks (holders, then waiters in queue order, without
    /// `_links`), by name.
    static func snapshot(_ resources: [(name: String, locks: [LockInfo])], id: String, time: ContinuousClock.Instant) -> [UInt8] {
        let clock = WallClock()
        var json = JSONWriter()
        json.beginObject()
        json.field("time", clock.timestamp(time))
        json.beginArray("resources")
        for resource in resources.sorted(by: { $0.name < $1.name }) {
            json.beginObject()
            json.field("name", resource.name)
            json.beginArray("locks")
            for lock in resource.locks { LockRepresentation.write(lock, clock: clock, detail: .unlinked, into: &json) }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return frame(event: "snapshot", id: id, data: json.bytes)
    }

    /// Says why what follows (a snapshot) replaces what the client knew, or why the stream
    /// ends. No id: a client keeps resuming from the last change it saw.
    static func reset(_ reason: String) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.field("reason", reason)
        json.endObject()
        return frame(event: "reset", id: nil, data: json.bytes)
    }

    static let heartbeat = Array(": heartbeat\n\n".utf8)

    /// Tells EventSource to wait this long before reconnecting (milliseconds).
    static let retry = Array("retry: 1000\n\n".utf8)

    private static func frame(event: String, id: String?, data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.count + 64)
        if let id {
            bytes.append(contentsOf: "id: ".utf8)
            bytes.append(contentsOf: id.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        bytes.append(contentsOf: "event: ".utf8)
        bytes.append(contentsOf: event.utf8)
        bytes.append(contentsOf: "\ndata: ".utf8)
        bytes.append(contentsOf: data)
        bytes.append(contentsOf: "\n\n".utf8)
        return bytes
    }
}
