/// Resource names on the wire: `[a-zA-Z0-9]+`, what the original RDLM's routing matched,
/// and nothing else. The server answers any other name 404; clients refuse it before
/// sending, with a clearer message.
public enum ResourceName {
    /// Inlinable, so that callers get a copy specialised to their string type: checked for
    /// every request the Swift client sends.
    @inlinable
    public static func isValid<Name: StringProtocol>(_ name: Name) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
    }

    /// Why a name was refused, for a person.
    public static func invalidMessage(_ name: String) -> String {
        "invalid resource name '\(name)': use one or more ASCII letters and digits"
    }
}
