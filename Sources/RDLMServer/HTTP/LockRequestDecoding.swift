import RDLMCore
import RDLMWire

/// Turns request bodies into core requests, checking every field against the limits.
struct LockRequestDecoder {
    let limits: RequestLimits

    /// The acquire body: `{"title": "...", "lifetime": N, "wait": N, "mode": "exclusive"|"shared"}`.
    /// `title`, `lifetime` and `wait` are required, as in the original.
    func acquireRequest(from body: [UInt8]) throws(HTTPError) -> LockRequest {
        guard !body.allSatisfy(Self.isWhitespace) else { throw HTTPError(.badRequest, "empty body") }
        let members = try object(from: body)
        guard let titleValue = members["title"] else { throw HTTPError(.badRequest, "missing field 'title'") }
        guard case .string(let title) = titleValue else {
            throw HTTPError(.badRequest, "field 'title' must be a string, not \(titleValue.typeName)")
        }
        guard title.utf8.count <= limits.maxTitleBytes else {
            throw HTTPError(.badRequest, "field 'title' is longer than \(limits.maxTitleBytes) bytes")
        }
        let lifetime = try seconds("lifetime", in: members, maximum: limits.maxLifetime, allowZero: false)
        let wait = try seconds("wait", in: members, maximum: limits.maxWait, allowZero: true)
        var mode = LockMode.exclusive
        if let modeValue = members["mode"] {
            guard case .string(let text) = modeValue, let parsed = LockMode(rawValue: text) else {
                throw HTTPError(.badRequest, "field 'mode' must be \"exclusive\" or \"shared\"")
            }
            mode = parsed
        }
        return LockRequest(title: title, lifetime: lifetime, wait: wait, mode: mode)
    }

    /// The refresh body: empty (keep the lock's lifetime) or `{"lifetime": N}`.
    func refreshLifetime(from body: [UInt8]) throws(HTTPError) -> Duration? {
        guard !body.allSatisfy(Self.isWhitespace) else { return nil }
        let members = try object(from: body)
        guard members["lifetime"] != nil else { return nil }
        return try seconds("lifetime", in: members, maximum: limits.maxLifetime, allowZero: false)
    }

    private func object(from body: [UInt8]) throws(HTTPError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw HTTPError(.badRequest, error.message)
        }
        guard case .object(let members) = value else {
            throw HTTPError(.badRequest, "body must be a JSON object, not \(value.typeName)")
        }
        return members
    }

    private func seconds(
        _ name: String, in members: [String: JSONValue], maximum: Duration, allowZero: Bool
    ) throws(HTTPError) -> Duration {
        guard let value = members[name] else { throw HTTPError(.badRequest, "missing field '\(name)'") }
        guard case .number(let number) = value else {
            throw HTTPError(.badRequest, "field '\(name)' must be a number of seconds, not \(value.typeName)")
        }
        let maximumSeconds = WireSeconds.format(maximum)
        guard number.isFinite, number <= maximum.secondsValue else {
            throw HTTPError(.badRequest, "field '\(name)' must be at most \(maximumSeconds) seconds")
        }
        guard allowZero ? number >= 0 : number > 0 else {
            throw HTTPError(.badRequest, "field '\(name)' must be \(allowZero ? "zero or more" : "more than zero") seconds")
        }
        let duration = WireSeconds.duration(seconds: number)
        // A lifetime such as 1e-7 is "more than zero" yet would expire before anyone could
        // use the lock; a wait that rounds to zero is simply a try-lock.
        guard allowZero || duration > .zero else {
            throw HTTPError(.badRequest, "field '\(name)' must be at least 1 µs (0.000001 seconds)")
        }
        return duration
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
}
