import Testing
@testable import RDLMServer

/// Bodies that parse as JSON somewhere but must still be refused here (issue 12, point 8).
@Suite("Lock request decoding")
struct LockRequestDecoderTests {
    let decoder = LockRequestDecoder(limits: RequestLimits())

    /// The 400's message for `body` as an acquire, or nil when it was accepted.
    func acquireRefusal(_ body: String) -> String? {
        refusal { () throws(HTTPError) in try decoder.acquireRequest(from: Array(body.utf8)) }
    }

    func refreshRefusal(_ body: String) -> String? {
        refusal { () throws(HTTPError) in try decoder.refreshLifetime(from: Array(body.utf8)) }
    }

    private func refusal<Decoded>(_ decode: () throws(HTTPError) -> Decoded) -> String? {
        do {
            _ = try decode()
            return nil
        } catch {
            #expect(error.status == .badRequest)
            return error.message
        }
    }

    @Test("a duplicate key is 400 naming it, whichever value comes last",
          arguments: [
            #"{"title": "t", "lifetime": -1, "lifetime": 5, "wait": 0}"#,
            #"{"title": "t", "lifetime": 5, "lifetime": -1, "wait": 0}"#,
            #"{"title": "t", "lifetime": 5, "wait": 0, "lifetime": 5}"#,
          ])
    func duplicateLifetime(body: String) {
        let message = acquireRefusal(body)
        #expect(message?.contains("duplicate key 'lifetime'") == true, "\(message ?? "accepted")")
    }

    @Test("a duplicate key in a refresh body or deep inside an object is 400 too")
    func duplicateElsewhere() {
        #expect(refreshRefusal(#"{"lifetime": 5, "lifetime": 6}"#)?.contains("duplicate key 'lifetime'") == true)
        let nested = #"{"title": "t", "lifetime": 5, "wait": 0, "extra": {"a": 1, "a": 2}}"#
        #expect(acquireRefusal(nested)?.contains("duplicate key 'a'") == true)
    }

    @Test("keys that differ only by escaping are the same key")
    func escapedDuplicate() {
        let body = #"{"title": "t", "lifetime": 5, "wait": 0, "li\u0066etime": 9}"#
        #expect(acquireRefusal(body)?.contains("duplicate key 'lifetime'") == true)
    }

    @Test("a lifetime that rounds to zero microseconds is 400 saying so",
          arguments: ["1e-7", "0.0000004", "4.9e-7"])
    func lifetimeRoundingToZero(lifetime: String) {
        let message = acquireRefusal(#"{"title": "t", "lifetime": \#(lifetime), "wait": 0}"#)
        #expect(message == "field 'lifetime' must be at least 1 µs (0.000001 seconds)", "\(message ?? "accepted")")
        let refresh = refreshRefusal(#"{"lifetime": \#(lifetime)}"#)
        #expect(refresh == "field 'lifetime' must be at least 1 µs (0.000001 seconds)", "\(refresh ?? "accepted")")
    }

    @Test("the smallest lifetime that rounds to 1 µs is accepted")
    func oneMicrosecond() throws {
        let request = try decoder.acquireRequest(from: Array(#"{"title": "t", "lifetime": 0.000001, "wait": 0}"#.utf8))
        #expect(request.lifetime == .microseconds(1))
        #expect(try decoder.refreshLifetime(from: Array(#"{"lifetime": 5e-7}"#.utf8)) == .microseconds(1))
    }

    @Test("a wait that rounds to zero is a try-lock, not an error")
    func waitRoundingToZero() throws {
        let request = try decoder.acquireRequest(from: Array(#"{"title": "t", "lifetime": 5, "wait": 1e-7}"#.utf8))
        #expect(request.wait == .zero)
    }
}
