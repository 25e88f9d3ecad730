/// The unique id of one lock request, shown to clients as 32 lowercase hex characters
/// (the `uid` of the original RDLM, a UUID4 without dashes).
public struct LockID: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh random id. Lock URLs double as the capability to release a lock, so ids
    /// come from the system's cryptographic generator and cannot be guessed.
    public static func random() -> LockID {
        var generator = SystemRandomNumberGenerator()
        return LockID(high: generator.next(), low: generator.next())
    }

    /// Parses exactly 32 lowercase hex characters, the only spelling ids are given out in;
    /// anything else (uppercase included, as in the original) names no lock.
    public init?(hex: Substring) {
        guard hex.utf8.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in hex.utf8.enumerated() {
            guard let nibble = Self.nibble(byte) else { return nil }
            if index < 16 {
                high = high << 4 | UInt64(nibble)
            } else {
                low = low << 4 | UInt64(nibble)
            }
        }
        self.init(high: high, low: low)
    }

    public init?(hex: String) {
        self.init(hex: hex[...])
    }

    public var description: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            Self.writeHex(high, into: buffer, at: 0)
            Self.writeHex(low, into: buffer, at: 16)
            return 32
        }
    }

    /// The 32 hex characters, appended to UTF-8 bytes.
    public func appendHex(to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 32))
        bytes.withUnsafeMutableBufferPointer { buffer in
            Self.writeHex(high, into: buffer, at: start)
            Self.writeHex(low, into: buffer, at: start + 16)
        }
    }

    private static func writeHex(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        let digits: StaticString = "0123456789abcdef"
        for position in 0..<16 {
            let nibble = Int((value >> UInt64((15 - position) * 4)) & 0xF)
            buffer[offset + position] = digits.utf8Start[nibble]
        }
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
