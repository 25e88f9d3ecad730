@testable import RDLMClient
import Testing

/// The `text/event-stream` parser against the WHATWG rules, fed in awkward pieces.
@Suite("Server-Sent Events parser")
struct EventStreamParserTests {
    /// Every message of `pieces`, fed one after another.
    func parse(_ pieces: [String]) -> (events: [ServerSentEvent], parser: ServerSentEventParser) {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for piece in pieces { events += parser.feed(Array(piece.utf8)) }
        return (events, parser)
    }

    @Test("LF, CRLF and CR line ends, even a CRLF split between pieces, give the same messages")
    func lineEnds() {
        let expected = [
            ServerSentEvent(type: "granted", data: "{\"a\":1}", lastEventID: "e-1"),
            ServerSentEvent(type: "message", data: "two\nlines", lastEventID: "e-1"),
        ]
        for end in ["\n", "\r\n", "\r"] {
            let text = ["id: e-1", "event: granted", "data: {\"a\":1}", "", "data: two", "data: lines", "", ""].joined(separator: end)
            #expect(parse([text]).events == expected, "line end \(end.debugDescription)")
            // Byte by byte: every split point, the one inside CRLF included.
            #expect(parse(text.map { String($0) }).events == expected, "line end \(end.debugDescription), byte by byte")
        }
        #expect(parse(["data: x\r", "\n\r", "\n"]).events == [ServerSentEvent(type: "message", data: "x", lastEventID: "")])
    }

    @Test("comments, fields without a colon or a space, unknown fields, a BOM, and messages without data")
    func fields() {
        let (events, _) = parse([
            "\u{FEFF}: a comment\n", ": heartbeat\n\n",
            "event: nothing\n\n",  // no data: not dispatched, and its type is forgotten
            "data\n\n",  // a field without a colon: empty data, dispatched
            "data:no space\nunknown: x\nevent:kind\n\n",
            "data:  two spaces\n\n",
            "data: unfinished",  // no blank line yet: not dispatched
        ])
        #expect(events == [
            ServerSentEvent(type: "message", data: "", lastEventID: ""),
            ServerSentEvent(type: "kind", data: "no space", lastEventID: ""),
            ServerSentEvent(type: "message", data: " two spaces", lastEventID: ""),
        ])
    }

    @Test("the last event id persists across messages without one; an id with NUL is ignored; retry only as digits")
    func idAndRetry() {
        let (events, parser) = parse([
            "retry: 250\nid: x-1\ndata: a\n\n", "data: b\n\n", "id: x\u{0}2\ndata: c\n\n", "retry: 1s\nretry: -5\n\n",
            "id\ndata: d\n\n",
        ])
        #expect(events.map(\.lastEventID) == ["x-1", "x-1", "x-1", ""])
        #expect(parser.retryMilliseconds == 250)
        #expect(parser.lastEventID == "")
    }
}
