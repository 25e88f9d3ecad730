import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One request as the tests write it.
struct TestRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var headers: [(String, String)] = []
    var body: [UInt8]?
    var version: HTTPVersion = .http1_1
    /// Send the body with `Transfer-Encoding: chunked`, in pieces of this many bytes.
    var chunkSize: Int?

    init(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body.map { Array($0.utf8) }
    }
}

/// A complete response: status, headers and body text.
struct TestResponse: Sendable, CustomStringConvertible {
    var status: Int
    var headers: HTTPHeaders
    var body: String
    var version: HTTPVersion

    func header(_ name: String) -> String? { headers.first(name: name) }

    /// The body as a JSON object.
    func json() throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(body.utf8))
        guard let object = value as? [String: Any] else { throw TestHTTPError.notAnObject(body) }
        return object
    }

    var description: String { "HTTP \(status) \(headers) \(body)" }
}

enum TestHTTPError: Error, CustomStringConvertible {
    case timedOut(String)
    case connectionClosed
    case notAnObject(String)
    case malformedResponse(String)

    var description: String {
        switch self {
        case .timedOut(let what): return "timed out: \(what)"
        case .connectionClosed: return "connection closed before a response"
        case .notAnObject(let body): return "body is not a JSON object: \(body)"
        case .malformedResponse(let text): return "malformed response: \(text)"
        }
    }
}

/// Every await on the network is bounded by this, so a hung server fails a test instead
/// of hanging the run; generous for a loaded 2-core machine.
let networkTimeout = TimeAmount.seconds(10)

/// A request handed to the pipeline together with the promise of its response.
private struct Exchange: Sendable {
    var request: TestRequest
    var response: EventLoopPromise<TestResponse>
}

/// Frames requests and matches responses to them in order, so one connection can carry
/// several requests, one after the other or pipelined.
private final class ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: [EventLoopPromise<TestResponse>] = []
    private var head: HTTPResponseHead?
    private var body = ""

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        let request = exchange.request
        pending.append(exchange.response)
        var headers = HTTPHeaders(request.headers)
        if !headers.contains(name: "host") { headers.add(name: "Host", value: "127.0.0.1") }
        if request.chunkSize != nil {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        } else if !headers.contains(name: "content-length") {
            headers.add(name: "Content-Length", value: String(request.body?.count ?? 0))
        }
        let head = HTTPRequestHead(version: request.version, method: request.method, uri: request.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let bytes = request.body, !bytes.isEmpty {
            let size = request.chunkSize ?? bytes.count
            var start = 0
            while start < bytes.count {
                let piece = bytes[start..<min(start + size, bytes.count)]
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: piece)))), promise: nil)
                start += size
            }
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            // Interim responses (100 Continue) are not answers.
            guard received.status.code >= 200 else { return }
            head = received
            body = ""
        case .body(let buffer):
            body += String(buffer: buffer)
        case .end:
            guard let received = head, !pending.isEmpty else { return }
            head = nil
            let response = TestResponse(status: Int(received.status.code), headers: received.headers, body: body, version: received.version)
            pending.removeFirst().succeed(response)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(TestHTTPError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        let promises = pending
        pending = []
        for promise in promises { promise.fail(error) }
    }
}

/// One HTTP/1.1 connection to the server under test, on NIO's shared client event loops.
final class TestConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func connect(port: Int) async throws -> TestConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(networkTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return TestConnection(channel: channel)
    }

    /// Sends a request without waiting for its answer (a waiter that stays parked, or
    /// pipelining); the future fails after `timeout` or when the connection closes first.
    func send(_ request: TestRequest, timeout: TimeAmount = networkTimeout) -> EventLoopFuture<TestResponse> {
        let promise = channel.eventLoop.makePromise(of: TestResponse.self)
        let channel = self.channel
        let description = "\(request.method) \(request.path)"
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(TestHTTPError.timedOut(description))
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        channel.writeAndFlush(Exchange(request: request, response: promise)).whenFailure { error in
            promise.fail(error)
        }
        return promise.futureResult
    }

    func execute(_ request: TestRequest, timeout: TimeAmount = networkTimeout) async throws -> TestResponse {
        try await send(request, timeout: timeout).get()
    }

    var isActive: Bool { channel.isActive }

    func close() async {
        try? await channel.close()
    }

    /// Resolves once the server has closed the connection (or fails after the timeout).
    func waitForClose(timeout: TimeAmount = networkTimeout) async throws {
        let closed = channel.closeFuture
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(TestHTTPError.timedOut("waiting for the server to close the connection"))
        }
        closed.whenComplete { _ in
            timer.cancel()
            promise.succeed()
        }
        try await promise.futureResult.get()
    }
}

/// Collects every byte the server sends until it closes the connection.
private final class RawCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var received: [UInt8] = []
    private let done: EventLoopPromise<[UInt8]>

    init(done: EventLoopPromise<[UInt8]>) {
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(unwrapInboundIn(data).readableBytesView)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(received)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset after the answer still ends the exchange; what arrived is what counts.
        context.close(promise: nil)
    }
}

/// Bytes on a socket with no HTTP framing on the client side, for what a real HTTP client
/// would never send (garbage, HTTP/1.0 without Host).
enum RawExchange {
    /// Writes `bytes`, then reads until the server closes the connection.
    static func send(_ bytes: [UInt8], port: Int, timeout: TimeAmount = networkTimeout) async throws -> RawResponse {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let done = loop.makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(networkTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawCollector(done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        let timer = loop.scheduleTask(in: timeout) {
            done.fail(TestHTTPError.timedOut("the server did not close the connection"))
            channel.close(promise: nil)
        }
        done.futureResult.whenComplete { _ in timer.cancel() }
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
        return try RawResponse(try await done.futureResult.get())
    }
}

/// The first response in raw bytes from a server.
struct RawResponse: CustomStringConvertible {
    var statusLine: String
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: String
    var text: String

    init(_ bytes: [UInt8]) throws {
        text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { throw TestHTTPError.malformedResponse(text) }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        statusLine = lines[0]
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let code = Int(fields[1]) else { throw TestHTTPError.malformedResponse(text) }
        status = code
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = headers
        body = String(text[end.upperBound...])
    }

    var description: String { text }
}
