import RDLMWire

/// The three admin modes of the original `--admin_userpass_file`.
public enum AdminAuthentication: Sendable, Equatable {
    /// `yes`: admin requests need no credentials.
    case open
    /// `no`: admin requests are refused (403).
    case forbidden
    /// A file of `user:password` lines: admin requests need matching HTTP Basic credentials.
    case basic(credentials: [String])

    /// Why an admin request was not let through.
    enum Denial: Error, Equatable {
        case forbidden
        case unauthorized(String)
    }

    /// Reads the flag as the original did: `yes`, `no`, or the path of a userpass file.
    /// - Throws: `ConfigurationError` when the file cannot be read or holds no valid line.
    public static func fromFlag(_ value: String) throws -> AdminAuthentication {
        try load(value).admin
    }

    /// The flag read, with what the operator should be told about the file (plain
    /// passwords, weak hashes), each naming its line.
    public struct Loaded: Sendable, Equatable {
        public var admin: AdminAuthentication
        public var warnings: [String]
    }

    /// Reads the flag: `yes`, `no`, or a userpass file whose lines are `user:password` or
    /// `user:HASH`, HASH being a crypt(3) hash (it starts with `$`) that libxcrypt can check.
    /// - Throws: `ConfigurationError` when the file cannot be read, holds no valid line, or a
    ///   line that cannot be used (no `:`, a hash libxcrypt cannot check), named by number.
    public static func load(_ value: String) throws -> Loaded {
        switch value {
        case "yes": return Loaded(admin: .open, warnings: [])
        case "no": return Loaded(admin: .forbidden, warnings: [])
        default:
            let bytes: [UInt8]
            do {
                bytes = try DataFile.readAll(value)
            } catch {
                throw ConfigurationError("cannot read admin userpass file '\(value)': \(error.systemReason ?? error.description)")
            }
            // A byte order mark is not part of the first line (Foundation's reading dropped it too).
            let text = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes[...]
            guard let contents = String(validating: text, as: UTF8.self) else {
                throw ConfigurationError("cannot read admin userpass file '\(value)': not valid UTF-8")
            }
            var entries: [String] = []
            var warnings: [String] = []
            // Numbered as an editor numbers them: every line counts, blank or comment.
            for (index, rawLine) in contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let line = Self.trimmingBlanks(rawLine)
                guard !line.isEmpty, !line.hasPrefix("#") else { continue }
                let place = "admin userpass file '\(value)', line \(index + 1)"
                guard let entry = AdminEntry(line) else {
                    throw ConfigurationError("\(place) has no ':' (expected user:password or user:HASH)")
                }
                switch entry.secret {
                case .plain:
                    warnings.append("\(place) (user '\(entry.user)'): the password is stored in plain text; store a hash instead (htpasswd -nB \(entry.user), or mkpasswd -m yescrypt)")
                case .hash(let hash):
                    switch hash.verdict() {
                    case .usable: break
                    case .weak(let why): warnings.append("\(place) (user '\(entry.user)'): \(why)")
                    case .unusable(let why): throw ConfigurationError("\(place) (user '\(entry.user)'): \(why)")
                    }
                }
                entries.append(line)
            }
            guard !entries.isEmpty else {
                throw ConfigurationError("admin userpass file '\(value)' has no user:password line")
            }
            return Loaded(admin: .basic(credentials: entries), warnings: warnings)
        }
    }

    /// Checks an `Authorization` header value against this mode, hashing right here when a
    /// hashed line's user is offered (`Admission` does that on a thread pool instead).
    func check(authorization: String?) -> Denial? {
        switch self {
        case .open:
            return nil
        case .forbidden:
            return .forbidden
        case .basic(let credentials):
            let entries = AdminEntries(credentials)
            switch entries.offered(authorization: authorization) {
            case .failure(let denial):
                return denial
            case .success(let offered):
                if entries.matchesPlain(offered) { return nil }
                return entries.matchesHash(offered) ? nil : .unauthorized(AdminEntries.wrongCredentials)
            }
        }
    }

    /// `text` without the blanks at either end: tabs and the Unicode space separators
    /// (general category Zs, such as U+0020 and U+00A0), the set `CharacterSet.whitespaces` is.
    static func trimmingBlanks(_ text: Substring) -> String {
        func isBlank(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }),
              let last = scalars.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(Substring(scalars[first...last]))
    }
}

/// A start-up setting that cannot be used, with a message for the operator.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
