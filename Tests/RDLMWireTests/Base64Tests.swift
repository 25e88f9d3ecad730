import Foundation
import RDLMWire
import Testing

/// The strict standard base64 of Basic credentials and etcd's gateway, without Foundation.
@Suite("Base64")
struct Base64Tests {
    @Test("valid input, with each amount of padding", arguments: [
        ("", ""), ("YQ==", "a"), ("YWI=", "ab"), ("YWJj", "abc"), ("YWJjZA==", "abcd"),
        ("YWRtaW46c2VjcmV0", "admin:secret"), ("b3BzOmh1bnRlcjI=", "ops:hunter2"),
    ])
    func valid(encoded: String, decoded: String) {
        #expect(Base64.decode(encoded) == Array(decoded.utf8))
    }

    @Test("all of the alphabet, '+' and '/' included")
    func alphabet() {
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
        #expect(Base64.decode("AAAA") == [0, 0, 0])
        #expect(Base64.decode("////") == [0xFF, 0xFF, 0xFF])
    }

    @Test("agrees with Foundation on what Foundation encodes")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let encoded = Data(bytes).base64EncodedString()
            #expect(Base64.decode(encoded) == bytes, "\(encoded)")
        }
    }

    @Test("unused bits before a pad are ignored, as Foundation does")
    func unusedBits() {
        #expect(Base64.decode("YR==") == Array("a".utf8))
        #expect(Base64.decode("YWJ=") == Array("ab".utf8))
    }

    @Test("a length that is not a multiple of four is refused", arguments: [
        "Y", "YQ", "YQ=", "YWJ", "YWJjZ", "YWJjZA", "YWJjZA=", "YWJjZA===",
    ])
    func wrongLength(encoded: String) {
        #expect(Base64.decode(encoded) == nil)
    }

    @Test("padding anywhere but the end of the last group is refused", arguments: [
        "====", "Y===", "=YQ=", "YQ=a", "Y=Q=", "YQ==YQ==", "YWJj====", "YWI===A=",
    ])
    func misplacedPadding(encoded: String) {
        #expect(Base64.decode(encoded) == nil)
    }

    @Test("a character outside the standard alphabet is refused", arguments: [
        "YW J", "YWJj\n", " YWJ", "YWJ-", "YWJ_", "YW.j", "YWJ\u{0}", "YWJ\u{E9}", "ÿWJj",
    ])
    func invalidCharacter(encoded: String) {
        #expect(Base64.decode(encoded) == nil)
    }

    @Test("encoding pads to a multiple of four", arguments: [
        ("", ""), ("a", "YQ=="), ("ab", "YWI="), ("abc", "YWJj"), ("abcd", "YWJjZA=="), ("admin:secret", "YWRtaW46c2VjcmV0"),
    ])
    func encodes(decoded: String, encoded: String) {
        #expect(Base64.encode(Array(decoded.utf8)) == encoded)
    }

    @Test("encoding agrees with Foundation, and decoding takes it back")
    func encodeRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(Base64.decode(encoded) == bytes)
        }
    }
}
