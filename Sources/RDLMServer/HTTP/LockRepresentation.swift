import RDLMCore

/// The HAL documents of the API.
enum LockRepresentation {
    static func lockPath(_ resource: String, _ id: LockID) -> String {
        "/locks/\(resource)/\(id)"
    }

    static func resourcePath(_ resource: String) -> String {
        "/resources/\(resource)"
    }

    /// What of a lock is shown.
    enum Detail {
        /// Every field, and `_links` (with the resource's link when the lock is shown alone).
        case full(resourceLink: Bool)
        /// Every field, no `_links`: `GET /events`, where the URL follows from the resource
        /// and the uid, and each byte is sent to every stream.
        case unlinked
        /// `uid`, `title`, `mode`, `active` and `fencing_token`: a lock that is gone, in
        /// `GET /events`, whose other fields the stream has shown already.
        case ended
    }

    /// One lock: the original's fields, plus `fencing_token` and `mode`.
    /// - Parameter key: the field it is the value of, inside an object.
    static func write(_ lock: LockInfo, clock: WallClock, detail: Detail, key: String? = nil, into json: inout JSONWriter) {
        let ended = if case .ended = detail { true } else { false }
        json.beginObject(key)
        json.field("uid") { lock.id.appendHex(to: &$0) }
        json.field("title", lock.request.title)
        if !ended {
            json.field("lifetime", seconds: lock.request.lifetime)
            json.field("wait", seconds: lock.request.wait)
        }
        json.field("mode", lock.request.mode.rawValue)
        json.field("active", lock.isActive)
        switch lock.state {
        case .active(let since, let expires, let token):
            if !ended {
                json.field("active_since") { clock.appendTimestamp(since, to: &$0) }
                json.field("active_expires") { clock.appendTimestamp(expires, to: &$0) }
            }
            json.field("fencing_token", token)
        case .waiting(let since, let expires):
            if !ended {
                json.field("wait_since") { clock.appendTimestamp(since, to: &$0) }
                json.field("wait_expires") { clock.appendTimestamp(expires, to: &$0) }
            }
        }
        if case .full(let resourceLink) = detail {
            json.beginObject("_links")
            json.link("self", lockPath(lock.resource, lock.id))
            if resourceLink { json.link("resource", resourcePath(lock.resource)) }
            json.endObject()
        }
        json.endObject()
    }

    static func lock(_ lock: LockInfo) -> String {
        var json = JSONWriter()
        write(lock, clock: WallClock(), detail: .full(resourceLink: true), into: &json)
        return json.text
    }

    /// `GET /resources/{name}`: the name, and the locks embedded when there are any.
    static func resource(_ name: String, locks: [LockInfo]) -> String {
        let clock = WallClock()
        var json = JSONWriter()
        json.beginObject()
        json.field("name", name)
        json.beginObject("_links")
        json.link("self", resourcePath(name))
        json.endObject()
        if !locks.isEmpty {
            json.beginObject("_embedded")
            json.beginArray("locks")
            for lock in locks { write(lock, clock: clock, detail: .full(resourceLink: false), into: &json) }
            json.endArray()
            json.endObject()
        }
        json.endObject()
        return json.text
    }

    /// `GET /resources`: the resources that have locks, embedded when there are any.
    static func resources(_ names: [String]) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.beginObject("_links")
        json.link("self", "/resources")
        json.endObject()
        if !names.isEmpty {
            json.beginObject("_embedded")
            json.beginArray("resources")
            for name in names.sorted() {
                json.beginObject()
                json.field("name", name)
                json.beginObject("_links")
                json.link("self", resourcePath(name))
                json.endObject()
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
        json.endObject()
        return json.text
    }
}
