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
    enum Denial: Equatable {
        case forbidden
        case unauthorized(String)
    }

    /// Reads the flag as the original did: `yes`, `no`, or the path of a userpass file.
    /// - Throws: `ConfigurationError` when the file cannot be read or holds no valid line.
    public static func fromFlag(_ value: String) throws -> AdminAuthentication {
        switch value {
        case "yes": return .open
        case "no": return .forbidden
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
            let lines = contents.split(whereSeparator: \.isNewline)
                .map(Self.trimmingBlanks)
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            for (number, line) in lines.enumerated() where !line.contains(":") {
                throw ConfigurationError("admin userpass file '\(value)': entry \(number + 1) has no ':' (expected user:password)")
            }
            guard !lines.isEmpty else {
                throw ConfigurationError("admin userpass file '\(value)' has no user:password line")
            }
            return .basic(credentials: lines)
        }
    }

    /// Checks an `Authorization` header value against this mode.
    func check(authorization: String?) -> Denial? {
        switch self {
        case .open:
            return nil
        case .forbidden:
            return .forbidden
        case .basic(let credentials):
            guard let authorization else { return .unauthorized("admin credentials required") }
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "basic" else {
                return .unauthorized("Authorization must use the Basic scheme")
            }
            guard let offered = Base64.decode(Self.trimmingBlanks(parts[1])) else {
                return .unauthorized("Authorization credentials are not valid base64")
            }
            guard offered.contains(UInt8(ascii: ":")) else {
                return .unauthorized("Authorization credentials must be user:password")
            }
            // Compare against every entry, always all of them, in constant time per entry,
            // so the answer's timing does not tell which part matched.
            var matched = false
            for entry in credentials where Self.constantTimeEquals(Array(entry.utf8), offered) {
                matched = true
            }
            return matched ? nil : .unauthorized("wrong admin credentials")
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

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt(a.count ^ b.count)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= UInt(x ^ y)
        }
        return difference == 0
    }
}

/// A start-up setting that cannot be used, with a message for the operator.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
