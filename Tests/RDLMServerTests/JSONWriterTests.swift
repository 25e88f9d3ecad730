import Foundation
import RDLMCore
import Testing
@testable import RDLMServer

/// The bytes every JSON answer and event is built from.
@Suite("JSONWriter")
struct JSONWriterTests {
    @Test("commas, nesting, numbers at their limits, escapes and plain fields")
    func text() throws {
        var json = JSONWriter()
        json.beginObject()
        json.field("zero", 0)
        json.field("negative", -42)
        json.field("smallest", Int.min)
        json.field("largest", UInt64.max)
        json.field("escaped", "a \"b\" \\ c\nd\u{1}é")
        json.field("yes", true)
        json.beginArray("list")
        json.beginObject()
        json.field("uid") { LockID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210).appendHex(to: &$0) }
        json.endObject()
        json.beginObject()
        json.endObject()
        json.endArray()
        json.link("self", "/locks/r/x")
        json.endObject()
        #expect(json.text == #"{"zero":0,"negative":-42,"smallest":-9223372036854775808,"largest":18446744073709551615,"#
            + #""escaped":"a \"b\" \\ c\nd\u0001é","yes":true,"list":[{"uid":"0123456789abcdeffedcba9876543210"},{}],"#
            + #""self":{"href":"/locks/r/x"}}"#)
        // What it writes is JSON, and says what was written.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
        #expect(parsed["escaped"] as? String == "a \"b\" \\ c\nd\u{1}é")
        #expect((parsed["largest"] as? NSNumber)?.uint64Value == UInt64.max)
    }

    @Test("a timestamp appended as bytes is the one shown as text")
    func timestamps() {
        let clock = WallClock()
        let now = ContinuousClock.now
        for instant in [now, now - .seconds(86_400 * 400), now + .milliseconds(1_500), now + .nanoseconds(999)] {
            var bytes = Array("x".utf8)
            clock.appendTimestamp(instant, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == "x" + clock.timestamp(instant))
        }
    }
}
