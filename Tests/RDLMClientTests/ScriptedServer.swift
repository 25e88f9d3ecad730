import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP server on 127.0.0.1 whose answers a test writes by hand, for the moments rdlmd
/// cannot be made to produce on cue: a grant that comes only after the client cancelled,
/// an answer cut off after its headers, a 404 to an acquire. Each connection has a thread
/// of its own, so an answer may block until the test lets it go on; every answer closes
/// its connection.
final class ScriptedServer: Sendable {
    /// One request as the script sees it.
    struct Exchange: Sendable {
        /// `POST /locks/name HTTP/1.1`.
        var requestLine: String
        /// The whole request, head and body, as received.
        var request: String
        var connection: Int32
        /// This server's port, for a `Location` that points back here.
        var port: UInt16

        /// Writes all of `text`.
        func send(_ text: String) {
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                guard written > 0 else { return }
                bytes = bytes.dropFirst(written)
            }
        }

        /// A complete answer without a body.
        func answer(_ statusLine: String, headers: [String] = []) {
            send((["HTTP/1.1 " + statusLine] + headers + ["Content-Length: 0", "Connection: close", "", ""]).joined(separator: "\r\n"))
        }

        /// Blocks until the peer acknowledged every byte written (`SIOCOUTQ` is 0): what
        /// was sent now sits in the client's socket buffer.
        func awaitAcknowledged() {
            let siocoutq: UInt = 0x5411  // linux/sockios.h
            var unacknowledged: Int32 = 1
            while ioctl(connection, siocoutq, &unacknowledged) == 0, unacknowledged > 0 {
                usleep(1_000)
            }
        }
    }

    let port: UInt16
    private let listener: Int32
    private let received = Mutex<[String]>([])

    /// Listens on a free port; `script` answers each request.
    init(_ script: @escaping @Sendable (Exchange) -> Void) throws {
        (listener, port) = try listenOnFreePort()
        let accepting = Thread { [self] in acceptConnections(script) }
        accepting.start()
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Every request line received, in arrival order.
    var requests: [String] { received.withLock { $0.map { Self.requestLine(of: $0) } } }

    /// Every request received, head and body as sent, in arrival order.
    var wholeRequests: [String] { received.withLock { $0 } }

    /// Stops accepting; connections in progress finish on their own.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptConnections(_ script: @escaping @Sendable (Exchange) -> Void) {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let serving = Thread { [self] in
                if let request = readRequest(connection) {
                    received.withLock { $0.append(request) }
                    script(Exchange(requestLine: Self.requestLine(of: request), request: request, connection: connection, port: port))
                }
                close(connection)
            }
            serving.start()
        }
    }

    /// The first line of a request, without its CRLF.
    private static func requestLine(of request: String) -> String {
        String(decoding: request.utf8.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    }

    /// Reads one request, head and `Content-Length` body, and returns all of it.
    private func readRequest(_ connection: Int32) -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if let end = received.firstRange(of: separator)?.upperBound {
                let head = String(decoding: received[..<end], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let declared = lines.first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if received.count - end >= declared { return String(decoding: received, as: UTF8.self) }
            }
            let count = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
            guard count > 0 else { return nil }
            received += buffer[..<count]
        }
    }
}

/// A one-shot event that one thread blocks on until another opens it.
final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func open() { semaphore.signal() }

    /// Blocks until the gate opens; false after `timeout` (then the test fails elsewhere).
    @discardableResult
    func pass(timeout: Duration = .seconds(60)) -> Bool {
        semaphore.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1_000))) == .success
    }
}

/// A condition one thread sets and a test polls.
final class Flag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
