import RDLMWire

/// One `user:password` or `user:HASH` line of the admin userpass file.
struct AdminEntry: Sendable {
    enum Secret: Sendable {
        /// The original format: the line is compared with the offered `user:password`.
        case plain
        /// A crypt(3) hash (the part after the first `:` starts with `$`).
        case hash(CryptHash)
    }

    /// The whole line, as the offered credentials must be for a plain line.
    let line: [UInt8]
    let user: String
    let secret: Secret

    /// nil when the line has no `:`. Basic credentials cannot carry a `:` in the user name,
    /// so the first one ends it.
    init?(_ line: String) {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        self.line = Array(line.utf8)
        user = String(line[..<colon])
        let rest = line[line.index(after: colon)...]
        secret = rest.hasPrefix("$") ? .hash(CryptHash(String(rest))) : .plain
    }
}

/// The lines of a userpass file, ready to check HTTP Basic credentials against.
struct AdminEntries: Sendable {
    let entries: [AdminEntry]

    static let wrongCredentials = "wrong admin credentials"

    init(_ lines: [String]) {
        entries = lines.compactMap(AdminEntry.init)
    }

    /// Decoded HTTP Basic credentials.
    struct Offered {
        /// `user:password`, as sent.
        var bytes: [UInt8]
        var user: ArraySlice<UInt8>
        var password: [UInt8]
    }

    /// The credentials of an `Authorization` header, or why there are none to check.
    func offered(authorization: String?) -> Result<Offered, AdminAuthentication.Denial> {
        guard let authorization else { return .failure(.unauthorized("admin credentials required")) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic" else {
            return .failure(.unauthorized("Authorization must use the Basic scheme"))
        }
        guard let bytes = Base64.decode(AdminAuthentication.trimmingBlanks(parts[1])) else {
            return .failure(.unauthorized("Authorization credentials are not valid base64"))
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            return .failure(.unauthorized("Authorization credentials must be user:password"))
        }
        return .success(Offered(bytes: bytes, user: bytes[..<colon], password: Array(bytes[(colon + 1)...])))
    }

    /// Whether a plain line is the offered `user:password`. Every plain line is compared,
    /// always all of them, in constant time each, so the timing does not tell which part
    /// matched.
    func matchesPlain(_ offered: Offered) -> Bool {
        var matched = false
        for entry in entries {
            guard case .plain = entry.secret else { continue }
            if ConstantTime.equals(entry.line, offered.bytes) { matched = true }
        }
        return matched
    }

    /// The hashes of the offered user's hashed lines (usually one; none for an unknown user).
    func hashes(for offered: Offered) -> [CryptHash] {
        entries.compactMap { entry in
            guard case .hash(let hash) = entry.secret, entry.user.utf8.elementsEqual(offered.user) else { return nil }
            return hash
        }
    }

    /// Whether the offered password matches one of `hashes`: every one is computed (tens of
    /// milliseconds each for bcrypt), so run it off the event loops.
    static func verify(_ password: [UInt8], against hashes: [CryptHash]) -> Bool {
        var matched = false
        for hash in hashes where hash.matches(password: password) { matched = true }
        return matched
    }

    /// The hashed lines checked right here, on the calling thread.
    func matchesHash(_ offered: Offered) -> Bool {
        Self.verify(offered.password, against: hashes(for: offered))
    }
}
