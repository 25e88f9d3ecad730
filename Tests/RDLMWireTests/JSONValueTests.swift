import RDLMWire
import Testing

/// The parser's rules are tested through rdlmd's request decoding (RDLMServerTests); here
/// what the etcd client adds: the serializer and a deeper nesting limit.
@Suite("JSONValue")
struct JSONValueTests {
    @Test("serialized is compact, members sorted, strings escaped")
    func compact() {
        let value = JSONValue.object([
            "key": .string("a\"b\\c\n"), "list": .array([.number(1), .bool(true), .null]),
            "empty": .object([:]), "none": .array([]), "bool": .bool(false),
        ])
        #expect(value.serialized == #"{"bool":false,"empty":{},"key":"a\"b\\c\n","list":[1,true,null],"none":[]}"#)
    }

    @Test("whole numbers as integers, others as decimals, non-finite as null")
    func numbers() {
        #expect(JSONValue.number(0).serialized == "0")
        #expect(JSONValue.number(-42).serialized == "-42")
        #expect(JSONValue.number(9_007_199_254_740_992).serialized == "9007199254740992")
        #expect(JSONValue.number(1.5).serialized == "1.5")
        #expect(JSONValue.number(.infinity).serialized == "null")
        #expect(JSONValue.number(.nan).serialized == "null")
    }

    @Test("what is serialized parses back to the same value", arguments: [
        JSONValue.string("ünïcödé 🔒 \u{1}"), .array([.number(-0.25), .number(1e300)]),
        .object(["nested": .object(["deeper": .array([.object([:])])])]),
    ])
    func roundTrip(value: JSONValue) throws {
        #expect(try JSONParser.parse(Array(value.serialized.utf8)) == value)
    }

    @Test("a deeper nesting limit can be asked for; the default stays 32")
    func depthLimit() throws {
        let deep = Array(String(repeating: "[", count: 40).utf8) + Array(String(repeating: "]", count: 40).utf8)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        _ = try JSONParser.parse(deep, maxDepth: 64)
    }
}
