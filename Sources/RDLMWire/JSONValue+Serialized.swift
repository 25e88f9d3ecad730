extension JSONValue {
    /// Compact JSON text: no white space, object members sorted by name so that equal
    /// values always give the same text. Numbers that are whole and within 2^53 are
    /// written as integers; NaN and the infinities, which JSON cannot hold, as `null`.
    public var serialized: String {
        var text = ""
        append(to: &text)
        return text
    }

    private func append(to text: inout String) {
        switch self {
        case .object(let members):
            text += "{"
            for (position, name) in members.keys.sorted().enumerated() {
                if position > 0 { text += "," }
                JSONString.append(name, to: &text)
                text += ":"
                members[name]!.append(to: &text)
            }
            text += "}"
        case .array(let elements):
            text += "["
            for (position, element) in elements.enumerated() {
                if position > 0 { text += "," }
                element.append(to: &text)
            }
            text += "]"
        case .string(let string):
            JSONString.append(string, to: &text)
        case .number(let number):
            text += Self.format(number)
        case .bool(let flag):
            text += flag ? "true" : "false"
        case .null:
            text += "null"
        }
    }

    private static func format(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number == number.rounded(), abs(number) <= 9_007_199_254_740_992 {
            return String(Int64(number))
        }
        return "\(number)"
    }
}
