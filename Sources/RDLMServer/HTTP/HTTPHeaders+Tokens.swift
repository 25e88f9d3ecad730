import NIOHTTP1

extension HTTPHeaders {
    /// Whether a `name` header (any case) has a value that contains `token` (ASCII, any
    /// case), as `Accept: Application/JSON` contains `application/json`. Compares bytes in
    /// place: `headers[name]` builds an array and `lowercased()` a copy of each value, which
    /// was a tenth of rdlmd's CPU per request from clients that send `Accept`
    /// (docs/benchmarks.md).
    func value(of name: StaticString, contains token: StaticString) -> Bool {
        let name = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        let token = UnsafeBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
        for header in self where Self.equalIgnoringCase(header.name.utf8, name) {
            if Self.contains(header.value.utf8, token) { return true }
        }
        return false
    }

    /// `lowercase` is already lower case.
    private static func equalIgnoringCase(_ text: String.UTF8View, _ lowercase: UnsafeBufferPointer<UInt8>) -> Bool {
        guard text.count == lowercase.count else { return false }
        return zip(text, lowercase).allSatisfy { lowered($0) == $1 }
    }

    private static func contains(_ text: String.UTF8View, _ lowercase: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = lowercase.first else { return true }
        var start = text.startIndex
        while let candidate = text[start...].firstIndex(where: { lowered($0) == first }) {
            var index = candidate
            var matched = 0
            while matched < lowercase.count, index != text.endIndex, lowered(text[index]) == lowercase[matched] {
                matched += 1
                index = text.index(after: index)
            }
            if matched == lowercase.count { return true }
            start = text.index(after: candidate)
        }
        return false
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
