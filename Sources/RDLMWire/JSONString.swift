/// JSON string literals as both sides write them: quotes, backslashes and control
/// characters escaped, everything else as it is (UTF-8).
public enum JSONString {
    public static func append(_ value: String, to json: inout String) {
        json += "\""
        // Whole runs between escapes, found on the UTF-8 bytes: every byte that needs an
        // escape is ASCII, and the bytes of a multi-byte character never are, so each run
        // ends on a character boundary. Appending scalar by scalar cost a sixth of rdlmd's
        // CPU per JSON grant (docs/benchmarks.md).
        let bytes = value.utf8
        var runStart = bytes.startIndex
        var index = runStart
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                json += Substring(bytes[runStart..<index])
                appendEscape(byte, to: &json)
                runStart = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        if runStart == bytes.startIndex {
            json += value
        } else {
            json += Substring(bytes[runStart..<bytes.endIndex])
        }
        json += "\""
    }

    private static func appendEscape(_ byte: UInt8, to json: inout String) {
        switch byte {
        case UInt8(ascii: "\""): json += "\\\""
        case UInt8(ascii: "\\"): json += "\\\\"
        case UInt8(ascii: "\n"): json += "\\n"
        case UInt8(ascii: "\r"): json += "\\r"
        case UInt8(ascii: "\t"): json += "\\t"
        default:
            let hex = String(byte, radix: 16)
            json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
}
