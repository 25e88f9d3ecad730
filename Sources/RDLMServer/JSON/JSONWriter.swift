import RDLMWire

/// Builds compact JSON text. Only what the API emits: objects written field by field.
struct JSONWriter {
    private(set) var text = ""
    private var needsComma: [Bool] = []

    init() {
        text.reserveCapacity(256)
    }

    mutating func beginObject(_ key: String? = nil) {
        prefix(key)
        text += "{"
        needsComma.append(false)
    }

    mutating func endObject() {
        text += "}"
        needsComma.removeLast()
    }

    mutating func beginArray(_ key: String) {
        prefix(key)
        text += "["
        needsComma.append(false)
    }

    mutating func endArray() {
        text += "]"
        needsComma.removeLast()
    }

    mutating func field(_ key: String, _ value: String) {
        prefix(key)
        JSONString.append(value, to: &text)
    }

    mutating func field(_ key: String, _ value: Bool) {
        prefix(key)
        text += value ? "true" : "false"
    }

    mutating func field(_ key: String, _ value: UInt64) {
        prefix(key)
        text += String(value)
    }

    mutating func field(_ key: String, _ value: Int) {
        prefix(key)
        text += String(value)
    }

    /// A duration in seconds: an integer when whole (as the original printed it), else a decimal.
    mutating func field(_ key: String, seconds value: Duration) {
        prefix(key)
        text += WireSeconds.format(value)
    }

    /// `{"href": ...}` under `key`, the HAL link shape.
    mutating func link(_ key: String, _ href: String) {
        beginObject(key)
        field("href", href)
        endObject()
    }

    private mutating func prefix(_ key: String?) {
        if let last = needsComma.last {
            if last { text += "," }
            needsComma[needsComma.count - 1] = true
        }
        if let key {
            JSONString.append(key, to: &text)
            text += ":"
        }
    }
}
