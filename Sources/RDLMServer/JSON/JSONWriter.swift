import RDLMWire

/// Builds compact JSON, as UTF-8 bytes. Only what the API emits: objects written field by
/// field. Keys are the API's own names (letters and underscores), written as they are.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Bit n: whether the container n deep has a member yet (nesting stays shallow).
    private var hasMember: UInt64 = 0
    private var depth = 0

    init() {
        bytes.reserveCapacity(512)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func beginObject(_ key: String? = nil) {
        open(UInt8(ascii: "{"), key)
    }

    mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    mutating func beginArray(_ key: String) {
        open(UInt8(ascii: "["), key)
    }

    mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    mutating func field(_ key: String, _ value: String) {
        prefix(key)
        JSONString.append(value, to: &bytes)
    }

    mutating func field(_ key: String, _ value: Bool) {
        prefix(key)
        bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
    }

    mutating func field(_ key: String, _ value: UInt64) {
        prefix(key)
        appendDecimal(value)
    }

    mutating func field(_ key: String, _ value: Int) {
        prefix(key)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(UInt64(value.magnitude))
    }

    /// A string that needs no escaping (hex digits, a timestamp), written by `write` straight
    /// into the bytes: no String is made for it.
    mutating func field(_ key: String, plain write: (inout [UInt8]) -> Void) {
        prefix(key)
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A duration in seconds: an integer when whole (as the original printed it), else a decimal.
    mutating func field(_ key: String, seconds value: Duration) {
        prefix(key)
        bytes.append(contentsOf: WireSeconds.format(value).utf8)
    }

    /// `{"href": ...}` under `key`, the HAL link shape.
    mutating func link(_ key: String, _ href: String) {
        beginObject(key)
        field("href", href)
        endObject()
    }

    private mutating func appendDecimal(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var count = 0
            repeat {
                digits[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }

    private mutating func open(_ bracket: UInt8, _ key: String?) {
        prefix(key)
        bytes.append(bracket)
        depth += 1
        precondition(depth < 64, "JSON nested too deep")
        hasMember &= ~(1 << depth)
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        depth -= 1
    }

    private mutating func prefix(_ key: String?) {
        if depth > 0 {
            if hasMember & (1 << depth) != 0 { bytes.append(UInt8(ascii: ",")) }
            hasMember |= 1 << depth
        }
        if let key {
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: key.utf8)
            bytes.append(contentsOf: "\":".utf8)
        }
    }
}
