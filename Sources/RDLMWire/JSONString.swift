/// JSON string literals as both sides write them: quotes, backslashes and control
/// characters escaped, everything else as it is (UTF-8).
public enum JSONString {
    public static func append(_ value: String, to json: inout String) {
        json += "\""
        if !scan(value, run: { json += Substring($0) }, escape: { json += $0 }) {
            json += value
        }
        json += "\""
    }

    /// The same literal, as UTF-8 bytes.
    public static func append(_ value: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        if !scan(value, run: { json.append(contentsOf: $0) }, escape: { json.append(contentsOf: $0.utf8) }) {
            json.append(contentsOf: value.utf8)
        }
        json.append(UInt8(ascii: "\""))
    }

    /// Hands over `value`'s text between escapes as whole runs, found on the UTF-8 bytes:
    /// every byte that needs an escape is ASCII, and the bytes of a multi-byte character
    /// never are, so each run ends on a character boundary. (Appending scalar by scalar
    /// cost a sixth of rdlmd's CPU per JSON grant: docs/benchmarks.md.) Hands over nothing
    /// and returns false when nothing needs escaping, the common case, for the caller to
    /// append `value` whole.
    @inline(__always)
    private static func scan(_ value: String, run: (Substring.UTF8View) -> Void, escape: (String) -> Void) -> Bool {
        let bytes = value.utf8
        var runStart = bytes.startIndex
        var index = runStart
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                run(bytes[runStart..<index])
                escape(self.escape(byte))
                runStart = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        guard runStart != bytes.startIndex else { return false }
        run(bytes[runStart..<bytes.endIndex])
        return true
    }

    private static func escape(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "\""): return "\\\""
        case UInt8(ascii: "\\"): return "\\\\"
        case UInt8(ascii: "\n"): return "\\n"
        case UInt8(ascii: "\r"): return "\\r"
        case UInt8(ascii: "\t"): return "\\t"
        default:
            let hex = String(byte, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
}
