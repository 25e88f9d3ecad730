import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// One answer, with the generator's send and receive times.
struct Answer: Sendable {
    var status: Int
    /// The path of the Location header (201 answers), without scheme and host.
    var location: String?
    var sentAt: UInt64
    var receivedAt: UInt64
    /// The body, when the connection collects bodies.
    var body: ByteBuffer? = nil
    var latency: UInt64 { receivedAt &- sentAt }
}

/// A request encoded once, written as often as needed.
struct PreparedRequest {
    var bytes: ByteBuffer

    static func acquire(_ resource: String, title: String, lifetime: String, wait: String, host: String, allocator: ByteBufferAllocator) -> PreparedRequest {
        let body = "{\"title\": \"\(title)\", \"lifetime\": \(lifetime), \"wait\": \(wait)}"
        return PreparedRequest(bytes: allocator.buffer(string:
            "POST /locks/\(resource) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"))
    }

    static func bodiless(_ method: StaticString, _ path: String, host: String, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> PreparedRequest {
        var bytes = allocator.buffer(capacity: path.utf8.count + host.utf8.count + 32)
        bytes.writeStaticString(method)
        bytes.writeInteger(UInt8(ascii: " "))
        bytes.writeString(path)
        bytes.writeStaticString(" HTTP/1.1\r\nHost: ")
        bytes.writeString(host)
        bytes.writeStaticString("\r\n\r\n")
        return PreparedRequest(bytes: bytes)
    }
}

/// One keep-alive HTTP/1.1 connection with at most one request in flight. Everything
/// happens on the connection's event loop; `onAnswer` and `onClose` are the workload's.
///
/// Requests are written pre-encoded and answers are parsed here, in place, reading only the
/// status, Content-Length and Location: the load generator shares two cores with the daemon,
/// and NIOHTTP1's client handlers (full header parsing into Strings, encoder) cost it
/// about twice as much CPU per request as wrk (measured: 38,000 vs 50,000 `GET /`/s
/// against the same daemon at 65 % vs 47 % of a core).
final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let index: Int
    private(set) var context: ChannelHandlerContext?
    private var sentAt: UInt64 = 0
    /// Bytes of an answer that has not arrived whole yet.
    private var partial: ByteBuffer?
    private(set) var inFlight = false
    fileprivate(set) var isOpen = false
    /// Keep response bodies (otherwise they are skipped).
    var collectsBodies = false
    var onAnswer: ((Connection, Answer) -> Void)?
    var onClose: ((Connection) -> Void)?
    /// Workload-specific slots, so workloads need no side tables.
    var postSentAt: UInt64 = 0
    var scratch = 0

    init(index: Int) {
        self.index = index
    }

    /// Writes a request; returns its send time (taken just before the write).
    @discardableResult
    func send(_ request: PreparedRequest) -> UInt64 {
        precondition(!inFlight, "one request at a time")
        guard let context else { return 0 }
        inFlight = true
        sentAt = now()
        context.writeAndFlush(wrapOutboundOut(request.bytes), promise: nil)
        return sentAt
    }

    /// Writes a request and hands its answer to `handler` alone (a one-shot `onAnswer`).
    @discardableResult
    func send(_ request: PreparedRequest, then handler: @escaping (Answer) -> Void) -> UInt64 {
        onAnswer = { connection, answer in
            connection.onAnswer = nil
            handler(answer)
        }
        return send(request)
    }

    func close() {
        context?.close(promise: nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if partial != nil {
            partial!.writeBuffer(&incoming)
            incoming = partial!
            partial = nil
        }
        while incoming.readableBytes > 0 {
            switch ResponseParser.parse(incoming, keepBody: collectsBodies) {
            case .incomplete:
                partial = incoming
                return
            case .malformed:
                context.close(promise: nil)
                return
            case .interim(let consumed):
                incoming.moveReaderIndex(forwardBy: consumed)
            case .complete(let consumed, let status, let location, let body):
                incoming.moveReaderIndex(forwardBy: consumed)
                guard inFlight else {
                    // An answer to no request (e.g. a 408 before closing): ignore it.
                    continue
                }
                inFlight = false
                onAnswer?(self, Answer(status: status, location: location, sentAt: sentAt, receivedAt: now(), body: body))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        let callback = onClose
        onClose = nil
        onAnswer = nil
        callback?(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// A minimal HTTP/1.1 response parser for answers with a Content-Length (or none, for
/// 1xx/204/304), which is what the daemons under test send.
enum ResponseParser {
    enum Result {
        case incomplete
        case malformed
        /// A 1xx interim answer: skip it, the real one follows.
        case interim(consumed: Int)
        case complete(consumed: Int, status: Int, location: String?, body: ByteBuffer?)
    }

    static func parse(_ buffer: ByteBuffer, keepBody: Bool) -> Result {
        buffer.withUnsafeReadableBytes { bytes -> Result in
            let count = bytes.count
            guard count >= 16 else { return .incomplete }
            // "HTTP/1.x NNN "
            guard bytes[0] == UInt8(ascii: "H"), bytes[8] == UInt8(ascii: " ") else { return .malformed }
            let status = (Int(bytes[9]) - 48) * 100 + (Int(bytes[10]) - 48) * 10 + (Int(bytes[11]) - 48)
            guard (100...599).contains(status) else { return .malformed }
            var lineStart = 0
            var contentLength = 0
            var location: String?
            var chunked = false
            var index = 0
            while true {
                // Find the end of the current line.
                guard let lf = findLF(bytes, from: index) else { return .incomplete }
                let lineEnd = lf > 0 && bytes[lf - 1] == 13 ? lf - 1 : lf
                if lineEnd == lineStart && lineStart > 0 {
                    // The empty line: the head ends here.
                    let headEnd = lf + 1
                    if chunked { return .malformed }
                    let bodyLength = (status < 200 || status == 204 || status == 304) ? 0 : contentLength
                    guard count - headEnd >= bodyLength else { return .incomplete }
                    let body = keepBody ? buffer.getSlice(at: buffer.readerIndex + headEnd, length: bodyLength) : nil
                    if status < 200 { return .interim(consumed: headEnd) }
                    return .complete(consumed: headEnd + bodyLength, status: status, location: location, body: body)
                }
                if lineStart > 0 {
                    if let value = headerValue(bytes, lineStart, lineEnd, name: "content-length") {
                        var length = 0
                        for offset in value { let digit = Int(bytes[offset]) - 48; if (0...9).contains(digit) { length = length * 10 + digit } }
                        contentLength = length
                    } else if let value = headerValue(bytes, lineStart, lineEnd, name: "location") {
                        location = pathOfURL(UnsafeRawBufferPointer(rebasing: bytes[value]))
                    } else if headerValue(bytes, lineStart, lineEnd, name: "transfer-encoding") != nil {
                        chunked = true
                    }
                }
                index = lf + 1
                lineStart = index
            }
        }
    }

    private static func findLF(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, 10, bytes.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// The range of a header's value when the line [start, end) is that header.
    private static func headerValue(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, name: StaticString) -> Range<Int>? {
        let length = name.utf8CodeUnitCount
        guard end - start > length, bytes[start + length] == UInt8(ascii: ":") else { return nil }
        let pointer = name.utf8Start
        for offset in 0..<length where bytes[start + offset] | 0x20 != pointer[offset] {
            return nil
        }
        var valueStart = start + length + 1
        while valueStart < end && (bytes[valueStart] == 32 || bytes[valueStart] == 9) { valueStart += 1 }
        var valueEnd = end
        while valueEnd > valueStart && (bytes[valueEnd - 1] == 32 || bytes[valueEnd - 1] == 9) { valueEnd -= 1 }
        return valueStart..<valueEnd
    }
}

extension EventLoop {
    /// Connects a new `Connection` on this loop; the callback runs on this loop. With `tls`,
    /// the connection speaks HTTPS (requests written before the handshake completes wait
    /// in the TLS handler).
    func connect(_ connection: Connection, host: String, port: Int, tls: NIOSSLContext? = nil, then done: @escaping (Result<Void, Error>) -> Void) {
        assertInEventLoop()
        let bound = NIOLoopBound(connection, eventLoop: self)
        ClientBootstrap(group: self)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
            .connect(host: host, port: port)
            .assumeIsolated()
            .whenComplete { result in
                // The connect promise completes before channelActive reaches the handler.
                if case .success = result { bound.value.isOpen = true }
                done(result.map { _ in () })
            }
    }
}
