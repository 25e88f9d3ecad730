import Foundation
import Logging
import RDLMClient
import RDLMServer
import RDLMTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every suite of client tests lives in here, run one test at a time: several tests
/// measure time (leases of a second, prompt cancellation), and the 1,000-waiter test uses
/// both cores for a few seconds.
@Suite("RDLMClient against rdlmd", .serialized)
struct ClientTests {}

/// Why a test stopped early.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Starts an in-process `rdlmd` on a free port, runs `body` with a client of it, and
/// always shuts both down.
@discardableResult
func withDaemonAndClient<Result>(
    admin: AdminAuthentication = .open,
    credentials: RDLMClient.AdminCredentials? = nil,
    _ body: (RDLMClient) async throws -> Result
) async throws -> Result {
    raiseOpenFilesLimit()
    var logger = Logger(label: "rdlmd-client-test")
    logger.logLevel = .warning
    let server = try await LockServer.start(
        configuration: ServerConfiguration(host: "127.0.0.1", port: 0, adminAuthentication: admin, threads: 2),
        logger: logger)
    let client = try RDLMClient(configuration: .init(
        baseURL: URL(string: "http://127.0.0.1:\(server.port)")!,
        defaultLifetime: .seconds(30),
        defaultWait: .seconds(10),
        adminCredentials: credentials))
    let result: Result
    do {
        result = try await body(client)
    } catch {
        await client.shutdown()
        await server.shutdown()
        throw error
    }
    await client.shutdown()
    await server.shutdown()
    return result
}

/// The base URL of a port where nothing listens: a daemon's, after it stopped.
func closedPortURL() async throws -> URL {
    let server = try await LockServer.start(
        configuration: ServerConfiguration(host: "127.0.0.1", port: 0, threads: 1), logger: Logger(label: "closed"))
    let port = server.port
    await server.shutdown()
    return URL(string: "http://127.0.0.1:\(port)")!
}

/// A TCP port that accepts connections (in the kernel's backlog) but never answers: the
/// listening socket is open until `body` returns.
func withSilentPort<Result>(_ body: (URL) async throws -> Result) async throws -> Result {
    let (listener, port) = try listenOnFreePort()
    defer { close(listener) }
    return try await body(URL(string: "http://127.0.0.1:\(port)")!)
}

/// A listening socket on a free port of 127.0.0.1, and that port.
func listenOnFreePort() throws -> (socket: Int32, port: UInt16) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard listener >= 0 else { throw TestFailure("socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> Bool in
            bind(listener, address, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, address, &length) == 0
        }
    }
    guard bound else {
        close(listener)
        throw TestFailure("cannot listen on a free port")
    }
    return (listener, UInt16(bigEndian: address.sin_port))
}

/// The name of the thread this runs on, as the kernel knows it (Linux).
func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .newlines)
}

extension RDLMClient {
    /// True when the server no longer knows the lock.
    func isGone(_ url: URL) async throws -> Bool {
        do {
            _ = try await lock(at: url)
            return false
        } catch let error as RDLMError where error == .notFound {
            return true
        }
    }
}

/// 1,000 waiters need 2,000 sockets in this process (client and server ends): lift the
/// soft limit to the hard one.
func raiseOpenFilesLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// Hands values from a test body to the test, such as "the body has started".
struct Signal<Value: Sendable>: Sendable {
    private let stream: AsyncStream<Value>
    private let continuation: AsyncStream<Value>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Value.self)
    }

    func send(_ value: Value) {
        continuation.yield(value)
    }

    /// The first value sent.
    func first() async throws -> Value {
        for await value in stream { return value }
        throw TestFailure("signal finished without a value")
    }
}
