import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RDLMCore
import Testing
@testable import RDLMServer

/// One connection's handler in the pipeline the daemon builds, on an `EmbeddedChannel`,
/// in front of a real lock service on a manual clock: every step is synchronous and exact.
struct ConnectionHarness {
    let channel: EmbeddedChannel
    let handler: ConnectionHandler
    let service: LocalLockService

    /// - Parameter sharing: another harness whose loop and lock service this one uses, as a
    ///   second connection to the same daemon.
    init(_ configuration: ServerConfiguration = ServerConfiguration(), sharing other: ConnectionHarness? = nil) throws {
        let loop = other?.channel.embeddedEventLoop ?? EmbeddedEventLoop()
        let logger = Logger(label: "test")
        service = other?.service ?? LocalLockService(limits: configuration.limits.table, lastFencingToken: 0, clock: ManualClock(), logger: logger)
        let sweepers = ConnectionSweepers(group: loop, interval: .hours(1))
        sweepers.cancel()
        let shared = RequestContext(service: service, configuration: configuration, metrics: ServerMetrics(backend: "test"), events: LockEventHub(settings: EventStreamSettings(), loop: loop), connections: { 0 }, logger: logger, sweepers: sweepers)
        handler = ConnectionHandler(shared: shared)
        channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([
            RequestStartObserver(handler),
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
            handler,
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40_000)).wait()
    }

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Everything written to the client so far.
    func written() throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    /// The status codes of the answers in `text`, in order.
    static func statuses(_ text: String) -> [Int] {
        text.split(separator: "HTTP/1.", omittingEmptySubsequences: true).compactMap { answer in
            Int(answer.dropFirst(2).prefix(3))
        }
    }

    static func acquire(_ resource: String, wait: Double = 0, host: String = "Host: rdlm.test\r\n", version: String = "1.1", target: String? = nil) -> String {
        let body = #"{"title": "t", "lifetime": 60, "wait": \#(wait)}"#
        return "POST \(target ?? "/locks/\(resource)") HTTP/\(version)\r\n\(host)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    static let get = "GET / HTTP/1.1\r\nHost: rdlm.test\r\n\r\n"
}

@Suite("The connection handler, on an embedded channel")
struct ConnectionHandlerTests {
    @Test("pipelined requests are answered in order, each with a Date header")
    func pipelining() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.get + ConnectionHarness.acquire("a") + "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n" + ConnectionHarness.get)
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [200, 201, 404, 200])
        let dates = text.split(separator: "\r\n").filter { $0.hasPrefix("Date: ") }
        #expect(dates.count == 4)
        #expect(dates.allSatisfy { $0.hasSuffix(" GMT") && $0.count == "Date: Sun, 06 Nov 1994 08:49:37 GMT".count })
    }

    @Test("nothing is answered while the channel is not writable; all is answered in order once it is")
    func writability() throws {
        let harness = try ConnectionHarness()
        harness.channel.isWritable = false
        harness.channel.pipeline.fireChannelWritabilityChanged()
        try harness.send(String(repeating: ConnectionHarness.get, count: 50) + ConnectionHarness.acquire("a"))
        #expect(try harness.written().isEmpty)
        #expect(harness.service.lockCount == 0, "a queued acquire was handled while answers could not be written")
        harness.channel.isWritable = true
        harness.channel.pipeline.fireChannelWritabilityChanged()
        #expect(ConnectionHarness.statuses(try harness.written()) == Array(repeating: 200, count: 50) + [201])
        #expect(harness.service.lockCount == 1)
    }

    @Test("a waiter whose client leaves before its grant leaves the queue, and the resource stays usable")
    func clientLeavesBeforeGrant() throws {
        let holder = try ConnectionHarness()
        try holder.send(ConnectionHarness.acquire("a"))
        let location = try #require(try holder.written().split(separator: "\r\n").first { $0.hasPrefix("Location: ") })
        let path = String(location.dropFirst("Location: http://rdlm.test".count))

        let waiter = try ConnectionHarness(sharing: holder)
        try waiter.send(ConnectionHarness.acquire("a", wait: 30))
        #expect(try waiter.written().isEmpty)
        #expect(holder.service.lockCount == 2)
        _ = try waiter.channel.close().wait()
        #expect(holder.service.lockCount == 1, "the waiter stayed queued after its client left")
        // Releasing the holder frees the resource: nobody holds it for a client that left.
        try holder.send("DELETE \(path) HTTP/1.1\r\nHost: rdlm.test\r\n\r\n")
        #expect(ConnectionHarness.statuses(try holder.written()) == [204])
        #expect(holder.service.lockCount == 0)
    }

    @Test("garbage after a good request: its answer first, then 400 with a message, then the connection closes")
    func garbageMidStream() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.get + "\u{01}\u{02} not http\r\n\r\n")
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [200, 400])
        #expect(text.contains("malformed HTTP request"))
        #expect(text.contains("Connection: close"))
        harness.channel.embeddedEventLoop.run()
        #expect(!harness.channel.isActive)
    }

    @Test("a grant whose client's end of input came with its request is released")
    func finWithRequest() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.acquire("a"))
        #expect(ConnectionHarness.statuses(try harness.written()) == [201])
        // The close is seen in the same turn of the loop as the request.
        _ = try harness.channel.close().wait()
        #expect(harness.service.lockCount == 0)
    }

    @Test("a grant stays held when the client closes later, after its answer")
    func closeAfterAnswerKeepsGrant() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.acquire("a"))
        #expect(ConnectionHarness.statuses(try harness.written()) == [201])
        harness.channel.embeddedEventLoop.run()
        _ = try harness.channel.close().wait()
        #expect(harness.service.lockCount == 1)
    }

    @Test("at shutdown an idle connection closes at once")
    func quiesceIdle() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.get)
        _ = try harness.written()
        harness.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        harness.channel.embeddedEventLoop.run()
        #expect(!harness.channel.isActive)
    }

    @Test("at shutdown a request in flight is finished, answered with Connection: close")
    func quiesceInFlight() throws {
        let harness = try ConnectionHarness()
        let request = ConnectionHarness.acquire("a")
        let split = request.index(request.endIndex, offsetBy: -5)
        try harness.send(String(request[..<split]))
        harness.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        harness.channel.embeddedEventLoop.run()
        #expect(harness.channel.isActive)
        try harness.send(String(request[split...]))
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [201])
        #expect(text.contains("Connection: close"))
        harness.channel.embeddedEventLoop.run()
        #expect(!harness.channel.isActive)
    }

    @Test("--request-timeout runs from a request's first byte, however slowly the head trickles in")
    func headDeadline() throws {
        let harness = try ConnectionHarness()
        let started = NIODeadline.now()
        try harness.send("GET / HTTP/1.1\r\nHo")
        // Trickling bytes do not move the deadline.
        try harness.send("s")
        harness.handler.checkProgress(now: started + .seconds(29))
        #expect(try harness.written().isEmpty)
        harness.handler.checkProgress(now: started + .seconds(31))
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [408])
        #expect(text.contains("request not received completely within 30 seconds"))
    }

    @Test("Host is required on HTTP/1.1, once, and must be a host and port", arguments: [
        ("", "HTTP/1.1 request without a Host header"),
        ("Host: a\r\nHost: b\r\n", "more than one Host header"),
        ("Host: \r\n", "invalid Host header"),
        ("Host: evil.example:443/phish?\r\n", "invalid Host header"),
        ("Host: 127.0.0.1@evil.example\r\n", "invalid Host header"),
        ("Host: [::1\r\n", "invalid Host header"),
        ("Host: a:123456\r\n", "invalid Host header"),
    ])
    func hostValidation(host: String, message: String) throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.acquire("a", host: host))
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [400])
        #expect(text.contains(message))
        #expect(harness.service.lockCount == 0)
    }

    @Test("Location is built from a valid Host exactly as the original built it", arguments: [
        "127.0.0.1:8888", "rdlm.test", "[::1]:8888", "locks.example.com:80",
    ])
    func locationFromHost(host: String) throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.acquire("a", host: "Host: \(host)\r\n"))
        #expect(try harness.written().contains("Location: http://\(host)/locks/a/"))
    }

    @Test("HTTP/1.0 without Host gets a Location with the address the client reached")
    func http10WithoutHost() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.acquire("a", host: "", version: "1.0"))
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [201])
        #expect(text.contains("Location: http://"))
    }

    @Test("an absolute-form target is accepted, and its authority makes the Location")
    func absoluteForm() throws {
        let harness = try ConnectionHarness()
        try harness.send(ConnectionHarness.acquire("a", target: "http://locks.example:8888/locks/a?x=1"))
        let text = try harness.written()
        #expect(ConnectionHarness.statuses(text) == [201])
        #expect(text.contains("Location: http://locks.example:8888/locks/a/"))
    }

    @Test("--public-url is the base of every Location, whatever Host says")
    func publicURL() throws {
        var configuration = ServerConfiguration()
        configuration.publicURL = "https://locks.example.com/rdlm"
        let harness = try ConnectionHarness(configuration)
        try harness.send(ConnectionHarness.acquire("a"))
        #expect(try harness.written().contains("Location: https://locks.example.com/rdlm/locks/a/"))
    }

    @Test("one client address holds or waits for at most --max-locks-per-client locks; more get 429 that names the limit")
    func perClientQuota() throws {
        var configuration = ServerConfiguration()
        configuration.limits.table.maxLocksPerClient = 2
        let first = try ConnectionHarness(configuration)
        try first.send(ConnectionHarness.acquire("a") + ConnectionHarness.acquire("b"))
        #expect(ConnectionHarness.statuses(try first.written()) == [201, 201])
        // Another connection from the same address shares the quota.
        let second = try ConnectionHarness(configuration, sharing: first)
        try second.send(ConnectionHarness.acquire("c"))
        let text = try second.written()
        #expect(ConnectionHarness.statuses(text) == [429])
        #expect(text.contains("already holds or waits for 2 locks"))
        #expect(text.contains("--max-locks-per-client"))
        #expect(first.service.lockCount == 2)
    }
}
