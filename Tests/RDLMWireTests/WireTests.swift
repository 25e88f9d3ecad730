import RDLMWire
import Testing

@Suite("The wire contract in code")
struct WireTests {
    @Test("resource names are [a-zA-Z0-9]+ and nothing else", arguments: [
        ("backup", true), ("A1b2", true), ("0", true),
        ("", false), ("a-b", false), ("a b", false), ("é", false), ("a/b", false), ("a_b", false),
    ])
    func names(name: String, valid: Bool) {
        #expect(ResourceName.isValid(name) == valid)
    }

    @Test("seconds are whole when whole, decimals to the microsecond otherwise", arguments: [
        (Duration.seconds(300), "300"), (.milliseconds(250), "0.25"), (.microseconds(1), "1e-06"),
        (.nanoseconds(499), "0"), (.nanoseconds(1_499), "1e-06"), (.nanoseconds(1_500), "2e-06"), (.zero, "0"), (.seconds(86_400), "86400"),
    ])
    func seconds(duration: Duration, text: String) {
        #expect(WireSeconds.format(duration) == text)
    }

    @Test("a number of seconds becomes whole microseconds")
    func secondsToDuration() {
        #expect(WireSeconds.duration(seconds: 0.25) == .milliseconds(250))
        #expect(WireSeconds.duration(seconds: 1e-7) == .zero)
        #expect(WireSeconds.duration(seconds: 12.5) == .microseconds(12_500_000))
    }

    @Test("JSON strings escape quotes, backslashes and control characters only")
    func jsonStrings() {
        var json = ""
        JSONString.append("a\"b\\c\nd\u{01}é", to: &json)
        #expect(json == #""a\"b\\c\nd\u0001é""#)
        // Runs of multi-byte characters between escapes, at either end, and no escape at all.
        json = ""
        JSONString.append("é\"日本\t🔒", to: &json)
        #expect(json == #""é\"日本\t🔒""#)
        json = "x"
        JSONString.append("\u{1F}plain", to: &json)
        JSONString.append("backup", to: &json)
        JSONString.append("", to: &json)
        #expect(json == #"x"\u001fplain""backup""""#)
    }

    @Test("what each status means for each request", arguments: [
        (201, StatusMeaning.Request.acquire, StatusMeaning.success),
        (408, .acquire, .waitTimedOut), (409, .acquire, .deleted), (404, .acquire, .badRequest),
        (400, .acquire, .badRequest), (413, .acquire, .badRequest), (429, .acquire, .tooManyRequests),
        (503, .acquire, .serverError), (200, .acquire, .unexpected),
        (204, .release, .success), (200, .release, .success), (404, .release, .notFound),
        (200, .refresh, .success), (409, .refresh, .notActive), (404, .refresh, .notFound),
        (200, .show, .success), (404, .show, .notFound), (409, .show, .unexpected),
        (401, .admin, .unauthorized), (403, .admin, .forbidden), (204, .admin, .success),
    ])
    func statuses(status: Int, request: StatusMeaning.Request, meaning: StatusMeaning) {
        #expect(StatusMeaning(status: status, of: request) == meaning)
    }
}
