import Foundation
import RDLMTestSupport
import Testing
@testable import RDLMServer

/// A request body that must be refused, with a name for the test report.
struct BadBody: Sendable, CustomTestStringConvertible {
    var name: String
    var body: String
    var testDescription: String { name }

    init(_ name: String, _ body: String) {
        self.name = name
        self.body = body
    }
}

/// Checks that a refusal is the expected 4xx with a message, never a 5xx.
func expectRefusal(_ response: TestResponse, _ status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, "\(response)", sourceLocation: sourceLocation)
    #expect(response.status < 500, sourceLocation: sourceLocation)
    #expect(!response.body.isEmpty, "an error without a message", sourceLocation: sourceLocation)
}

extension ServerTests {
    /// Contract Part 1: the 400s of the acquire body.
    @Suite("Acquire body")
    struct AcquireBody {
        static let contractBodies: [BadBody] = [
            BadBody("empty body", ""),
            BadBody("whitespace only", " \n\t "),
            BadBody("not JSON", "title=backup&lifetime=10&wait=1"),
            BadBody("truncated JSON", #"{"title": "t", "lifetime": 10,"#),
            BadBody("missing title", #"{"lifetime": 10, "wait": 1}"#),
            BadBody("missing lifetime", #"{"title": "t", "wait": 1}"#),
            BadBody("missing wait", #"{"title": "t", "lifetime": 10}"#),
            BadBody("lifetime as a string", #"{"title": "t", "lifetime": "10", "wait": 1}"#),
            BadBody("wait as a string", #"{"title": "t", "lifetime": 10, "wait": "1"}"#),
            BadBody("lifetime as a boolean", #"{"title": "t", "lifetime": true, "wait": 1}"#),
            BadBody("wait as null", #"{"title": "t", "lifetime": 10, "wait": null}"#),
            BadBody("title as a number", #"{"title": 5, "lifetime": 10, "wait": 1}"#),
            BadBody("title as null", #"{"title": null, "lifetime": 10, "wait": 1}"#),
        ]

        @Test("a body that is empty, not JSON, lacks a field or has a wrong type is 400", arguments: contractBodies)
        func contractRefusals(bad: BadBody) async throws {
            try await expectRefused(bad)
        }

        static let notObjects: [BadBody] = [
            BadBody("null", "null"), BadBody("array", #"[{"title": "t", "lifetime": 10, "wait": 1}]"#),
            BadBody("string", #""title""#), BadBody("number", "42"), BadBody("boolean", "true"),
        ]

        @Test("a JSON body that is not an object is 400", arguments: notObjects)
        func notAnObject(bad: BadBody) async throws {
            try await expectRefused(bad)
        }

        static let badNumbers: [BadBody] = [
            BadBody("negative lifetime", #"{"title": "t", "lifetime": -1, "wait": 1}"#),
            BadBody("zero lifetime", #"{"title": "t", "lifetime": 0, "wait": 1}"#),
            BadBody("huge lifetime", #"{"title": "t", "lifetime": 1e300, "wait": 1}"#),
            BadBody("overflowing lifetime", #"{"title": "t", "lifetime": 1e400, "wait": 1}"#),
            BadBody("negative wait", #"{"title": "t", "lifetime": 10, "wait": -0.5}"#),
            BadBody("huge wait", #"{"title": "t", "lifetime": 10, "wait": 1e300}"#),
            BadBody("lifetime over the limit", #"{"title": "t", "lifetime": 86401, "wait": 1}"#),
            BadBody("wait over the limit", #"{"title": "t", "lifetime": 10, "wait": 3601}"#),
        ]

        @Test("a lifetime or wait out of range is 400", arguments: badNumbers)
        func outOfRange(bad: BadBody) async throws {
            try await expectRefused(bad)
        }

        static let garbage: [BadBody] = [
            BadBody("deeply nested arrays", String(repeating: "[", count: 4_000) + String(repeating: "]", count: 4_000)),
            BadBody("deeply nested objects", String(repeating: #"{"a":"#, count: 1_000) + "1" + String(repeating: "}", count: 1_000)),
            BadBody("nested and unterminated", #"{"title": {"a": [1, {"b": [tru"#),
            BadBody("trailing garbage", #"{"title": "t", "lifetime": 10, "wait": 1} xyz"#),
            BadBody("trailing comma", #"{"title": "t", "lifetime": 10, "wait": 1,}"#),
            BadBody("control character in a string", "{\"title\": \"a\u{1}b\", \"lifetime\": 10, \"wait\": 1}"),
            BadBody("bad escape", #"{"title": "\x41", "lifetime": 10, "wait": 1}"#),
            BadBody("NaN", #"{"title": "t", "lifetime": NaN, "wait": 1}"#),
            BadBody("mode bogus", #"{"title": "t", "lifetime": 10, "wait": 1, "mode": "bogus"}"#),
            BadBody("mode as a number", #"{"title": "t", "lifetime": 10, "wait": 1, "mode": 1}"#),
        ]

        @Test("nested or malformed JSON and an unknown mode are 400", arguments: garbage)
        func malformed(bad: BadBody) async throws {
            try await expectRefused(bad)
        }

        private func expectRefused(_ bad: BadBody) async throws {
            try await withServer { server in
                expectRefusal(try await server.request(.POST, "/locks/foo", body: bad.body), 400)
                #expect(server.service.lockCount == 0)
                #expect(try await server.stillServes())
            }
        }
    }

    /// Limits on what one request may send.
    @Suite("Request limits")
    struct Limits {
        static let small = ServerConfiguration.test(limits: RequestLimits(
            maxBodyBytes: 1_024, maxTitleBytes: 64, maxResourceNameLength: 16))

        static var oversizedBody: String {
            lockBody(title: String(repeating: "x", count: 2_048))
        }

        @Test("a body over the limit with Content-Length is 413 and the connection closes")
        func bodyTooLargeWithLength() async throws {
            try await withServer(Self.small) { server in
                let connection = try await server.connect()
                let response = try await connection.execute(TestRequest(.POST, "/locks/foo", body: Self.oversizedBody))
                expectRefusal(response, 413)
                try await connection.waitForClose()
                #expect(server.service.lockCount == 0)
                #expect(try await server.stillServes())
            }
        }

        @Test("a chunked body over the limit is 413 and the connection closes")
        func bodyTooLargeChunked() async throws {
            try await withServer(Self.small) { server in
                let connection = try await server.connect()
                var request = TestRequest(.POST, "/locks/foo", body: Self.oversizedBody)
                request.chunkSize = 256
                let response = try await connection.execute(request)
                expectRefusal(response, 413)
                try await connection.waitForClose()
                #expect(server.service.lockCount == 0)
                #expect(try await server.stillServes())
            }
        }

        @Test("a chunked body within the limit is accepted")
        func chunkedWithinLimit() async throws {
            try await withServer(Self.small) { server in
                var request = TestRequest(.POST, "/locks/foo", body: lockBody())
                request.chunkSize = 7
                let response = try await server.request(request)
                #expect(response.status == 201)
            }
        }

        @Test("a body of exactly maxBodyBytes is accepted")
        func bodyAtLimit() async throws {
            try await withServer(Self.small) { server in
                let body = lockBody()
                let padded = body + String(repeating: " ", count: 1_024 - body.utf8.count)
                let response = try await server.request(.POST, "/locks/foo", body: padded)
                #expect(response.status == 201, "\(response)")
            }
        }

        @Test("a title over maxTitleBytes is 400, counted in UTF-8 bytes")
        func titleTooLong() async throws {
            try await withServer(Self.small) { server in
                expectRefusal(try await server.acquire("foo", title: String(repeating: "t", count: 65)), 400)
                expectRefusal(try await server.acquire("foo", title: String(repeating: "é", count: 33)), 400)
                #expect(try await server.acquire("foo", title: String(repeating: "é", count: 32)).status == 201)
                #expect(try await server.stillServes())
            }
        }

        @Test("a resource name over maxResourceNameLength is 400")
        func resourceNameTooLong() async throws {
            try await withServer(Self.small) { server in
                let long = String(repeating: "a", count: 17)
                expectRefusal(try await server.acquire(long), 400)
                expectRefusal(try await server.request(.GET, "/locks/\(long)/0123456789abcdef0123456789abcdef"), 400)
                #expect(try await server.acquire(String(repeating: "a", count: 16)).status == 201)
                #expect(try await server.stillServes())
            }
        }

        @Test("an unknown method on a route is 405 with Allow")
        func methodNotAllowed() async throws {
            try await withServer { server in
                let put = try await server.request(.PUT, "/locks/foo", body: lockBody())
                expectRefusal(put, 405)
                #expect(put.header("Allow") == "POST")
                let onLock = try await server.request(.PUT, "/locks/foo/0123456789abcdef0123456789abcdef")
                expectRefusal(onLock, 405)
                let allowed = Set((onLock.header("Allow") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                #expect(allowed == ["GET", "DELETE", "PATCH"])
                let postResources = try await server.request(.POST, "/resources")
                expectRefusal(postResources, 405)
                #expect(postResources.header("Allow") != nil)
                #expect(try await server.stillServes())
            }
        }

        @Test("an unknown path is 404 with a message")
        func unknownPath() async throws {
            try await withServer { server in
                for path in ["/nothing", "/locks", "/locks/foo/0123456789abcdef0123456789abcdef/more", "//", "/resources/foo/bar"] {
                    expectRefusal(try await server.request(.GET, path), 404)
                }
                #expect(try await server.stillServes())
            }
        }
    }

    /// Refusals that leave the connection usable, and bodies no one planned for.
    @Suite("Robustness")
    struct Robustness {
        @Test("a connection stays usable after a 400, a 404 and a 405")
        func keepAliveAfterErrors() async throws {
            try await withServer { server in
                let connection = try await server.connect()
                expectRefusal(try await connection.execute(TestRequest(.POST, "/locks/foo", body: "{")), 400)
                expectRefusal(try await connection.execute(TestRequest(.GET, "/locks/foo-bar")), 404)
                expectRefusal(try await connection.execute(TestRequest(.PUT, "/locks/foo")), 405)
                let acquired = try await connection.execute(TestRequest(.POST, "/locks/foo", body: lockBody()))
                #expect(acquired.status == 201)
                #expect(try await connection.execute(TestRequest(.DELETE, try lockPath(acquired))).status == 204)
                await connection.close()
            }
        }

        @Test("randomly mutated acquire bodies never get a 5xx")
        func mutatedBodies() async throws {
            try await withServer { server in
                let valid = Array(lockBody(title: "fuzz \\ \"q\" é", lifetime: 1.5, wait: 0, mode: "shared").utf8)
                var connection = try await server.connect()
                for round in 0..<300 {
                    var body = valid
                    for _ in 0..<Int.random(in: 1...4) {
                        let position = Int.random(in: 0..<body.count)
                        switch Int.random(in: 0..<3) {
                        case 0: body[position] = UInt8.random(in: 0...255)
                        case 1: body.remove(at: position)
                        default: body.insert(Array("{}[]\",:0-.e\\ ".utf8).randomElement()!, at: position)
                        }
                        if body.isEmpty { body = [0x20] }
                    }
                    var request = TestRequest(.POST, "/locks/fuzz")
                    request.body = body
                    if !connection.isActive { connection = try await server.connect() }
                    let response = try await connection.execute(request)
                    let text = String(decoding: body, as: UTF8.self)
                    #expect([201, 400, 408].contains(response.status), "round \(round), body \(text): \(response)")
                    if response.status == 201 {
                        _ = try await connection.execute(TestRequest(.DELETE, try lockPath(response)))
                    } else {
                        #expect(!response.body.isEmpty)
                    }
                }
                await connection.close()
                #expect(try await server.stillServes())
            }
        }
    }

    /// Bytes that are not HTTP at all.
    @Suite("Garbage on the socket")
    struct Garbage {
        @Test("a line of text that is not HTTP gets 400 and the connection closes")
        func textGarbage() async throws {
            try await withServer { server in
                let response = try await RawExchange.send(Array("GARBAGE\r\n\r\n".utf8), port: server.port)
                #expect(response.status == 400, "\(response)")
                #expect(!response.body.isEmpty)
                #expect(try await server.stillServes())
            }
        }

        @Test("a binary blob gets 400 and the connection closes")
        func binaryGarbage() async throws {
            try await withServer { server in
                // A TLS ClientHello's start, then random bytes.
                var blob: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00, 0xff]
                blob += (0..<500).map { _ in UInt8.random(in: 0...255) }
                blob += Array("\r\n\r\n".utf8)
                let response = try await RawExchange.send(blob, port: server.port)
                #expect(response.status == 400, "\(response)")
                #expect(try await server.stillServes())
            }
        }

        @Test("garbage behind a parked acquire: the acquire is answered first, then 400, then a close")
        func garbageBehindParkedAcquire() async throws {
            try await withServer { server in
                let holder = try await server.acquireLock("foo")
                let body = lockBody(title: "waiter", wait: 30)
                let raw = "POST /locks/foo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)GARBAGE\r\n\r\n"
                let port = server.port
                let exchange = Task { try await RawExchange.send(Array(raw.utf8), port: port) }
                try await eventually("the waiter is queued") { server.service.lockCount == 2 }
                #expect(try await server.request(.DELETE, holder).status == 204)
                let response = try await exchange.value
                #expect(response.status == 201, "\(response)")
                let grant = try #require(response.text.range(of: "HTTP/1.1 201"))
                let refusal = try #require(response.text.range(of: "HTTP/1.1 400"), "\(response)")
                #expect(grant.lowerBound < refusal.lowerBound)
                #expect(try await server.stillServes())
            }
        }

        @Test("a burst of pipelined requests in one write is answered, in order, each once")
        func pipelinedBurst() async throws {
            try await withServer { server in
                var raw = ""
                for index in 0..<60 {
                    raw += index.isMultiple(of: 2) ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                }
                raw += "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                let response = try await RawExchange.send(Array(raw.utf8), port: server.port)
                // Answers follow each other directly (a body has no line break after it).
                let statuses = response.text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
                #expect(statuses == (0..<60).map { $0.isMultiple(of: 2) ? "200" : "404" } + ["200"])
            }
        }

        @Test("HEAD is refused with 405, a Content-Length and no body")
        func headHasNoBody() async throws {
            try await withServer { server in
                let raw = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                let response = try await RawExchange.send(Array(raw.utf8), port: server.port)
                #expect(response.status == 405, "\(response)")
                #expect(response.headers["content-length"] != nil)
                #expect(response.body.hasPrefix("HTTP/1.1 200"), "the next answer follows the head at once: \(response)")
            }
        }

        @Test("a broken request after a good one on the same connection gets 400 and a close")
        func garbageAfterRequest() async throws {
            try await withServer { server in
                let raw = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"
                let response = try await RawExchange.send(Array(raw.utf8), port: server.port)
                #expect(response.status == 200, "\(response)")
                #expect(response.text.contains("HTTP/1.1 400"), "\(response)")
                #expect(try await server.stillServes())
            }
        }
    }
}
