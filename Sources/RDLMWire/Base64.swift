/// Standard base64 (RFC 4648 section 4), for HTTP Basic credentials and etcd's JSON gateway
/// (keys and values are base64 there). Decoded strictly:
/// only the alphabet `A-Z a-z 0-9 + /`, a length that is a multiple of four, and `=` only
/// as the one or two pads that end the last group. No whitespace, no line breaks, no
/// URL-safe alphabet. The unused low bits before a pad are ignored, as Foundation's
/// `Data(base64Encoded:)` ignores them.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// `bytes` in the standard alphabet, padded with `=` to a multiple of four characters.
    public static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            output.append(alphabet[Int(group >> 18)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(second == nil ? UInt8(ascii: "=") : alphabet[Int(group >> 6 & 0x3F)])
            output.append(third == nil ? UInt8(ascii: "=") : alphabet[Int(group & 0x3F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil when it is not valid base64. Empty text is no bytes.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count.isMultiple(of: 4) else { return nil }
        // Up to two pads at the end stand for the bytes the last group lacks; an `=`
        // anywhere else is not in the alphabet below and so fails the decoding.
        var padding = 0
        while padding < 2, padding < input.count, input[input.count - 1 - padding] == UInt8(ascii: "=") {
            padding += 1
        }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        // Four characters carry six bits each: three bytes once a group is complete.
        var group: UInt32 = 0
        for (position, character) in input.dropLast(padding).enumerated() {
            guard let bits = value(of: character) else { return nil }
            group = group << 6 | UInt32(bits)
            if position % 4 == 3 {
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
                output.append(UInt8(truncatingIfNeeded: group))
                group = 0
            }
        }
        switch padding {
        case 1:  // three characters, 18 bits: two bytes and two unused bits
            output.append(UInt8(truncatingIfNeeded: group >> 10))
            output.append(UInt8(truncatingIfNeeded: group >> 2))
        case 2:  // two characters, 12 bits: one byte and four unused bits
            output.append(UInt8(truncatingIfNeeded: group >> 4))
        default:
            break
        }
        return output
    }

    /// The six bits a character of the standard alphabet stands for.
    private static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
