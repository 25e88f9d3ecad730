import NIOHTTP1
import Testing
@testable import RDLMServer

@Suite("Finding a token in a request header")
struct HeaderTokenTests {
    @Test("names and tokens match in any case, anywhere in any value of that header", arguments: [
        ([("Accept", "application/json")], true),
        ([("ACCEPT", "text/html, Application/JSON;q=0.9")], true),
        ([("Accept", "text/html"), ("accept", "application/hal+json, application/json")], true),
        ([("Accept", "application/jso")], false),
        ([("Accept", "application/hal+json")], false),
        ([("Accepts", "application/json")], false),
        ([("Content-Type", "application/json")], false),
        ([("Accept", "aapplication/json")], true),
        ([], false),
    ])
    func accept(headers: [(String, String)], expected: Bool) {
        #expect(HTTPHeaders(headers).value(of: "accept", contains: "application/json") == expected)
    }
}
