import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RDLMTestSupport
import Testing
@testable import RDLMServer

/// Every suite of server tests lives in here, so they can all be serialized with one trait
/// if timing on a loaded machine ever asks for it.
@Suite("rdlmd over HTTP")
struct ServerTests {}

extension ServerConfiguration {
    /// A server for one test: a free port, two event-loop threads.
    static func test(
        admin: AdminAuthentication = .open,
        limits: RequestLimits = RequestLimits()
    ) -> ServerConfiguration {
        ServerConfiguration(host: "127.0.0.1", port: 0, adminAuthentication: admin, limits: limits, threads: 2)
    }
}

/// Starts an in-process server, runs `body` against it, and always shuts it down.
/// - Parameter clock: the lock service's time; a `ManualClock` lets a test move it on
///   instead of sleeping.
func withServer<Result>(
    _ configuration: ServerConfiguration = .test(),
    clock: (any LockClock)? = nil,
    _ body: (TestServer) async throws -> Result
) async throws -> Result {
    var logger = Logger(label: "rdlmd-test")
    logger.logLevel = .warning
    let server = try await LockServer.start(configuration: configuration, clock: clock, logger: logger)
    let result: Result
    do {
        result = try await body(TestServer(server: server))
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
    return result
}

/// Why a test stopped early (a condition never came true).
struct TestFailure: Error, CustomStringConvertible {
    var description: String
}

/// The server under test, with the requests the tests make most.
struct TestServer: Sendable {
    let server: LockServer

    var port: Int { server.port }
    var service: LocalLockService { server.local! }

    func connect() async throws -> TestConnection {
        try await TestConnection.connect(port: port)
    }

    /// One request on a fresh connection, closed afterwards.
    func request(_ request: TestRequest) async throws -> TestResponse {
        let connection = try await connect()
        let response: TestResponse
        do {
            response = try await connection.execute(request)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        return response
    }

    func request(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestResponse {
        try await request(TestRequest(method, path, headers: headers, body: body))
    }

    /// `POST /locks/{resource}` on a fresh connection.
    func acquire(
        _ resource: String, title: String = "test", lifetime: Double = 30, wait: Double = 5,
        mode: String? = nil, headers: [(String, String)] = []
    ) async throws -> TestResponse {
        try await request(.POST, "/locks/\(resource)", headers: headers,
                          body: lockBody(title: title, lifetime: lifetime, wait: wait, mode: mode))
    }

    /// Acquires and returns the lock's path, requiring a 201.
    func acquireLock(
        _ resource: String, title: String = "test", lifetime: Double = 30, wait: Double = 5, mode: String? = nil
    ) async throws -> String {
        let response = try await acquire(resource, title: title, lifetime: lifetime, wait: wait, mode: mode)
        try #require(response.status == 201, "acquire on \(resource): \(response)")
        return try lockPath(response)
    }

    /// An acquire that is expected to park: it is sent on its own connection, and this
    /// returns once the server has queued it (its lock count grew by one).
    func park(
        _ resource: String, title: String = "waiter", lifetime: Double = 30, wait: Double = 30, mode: String? = nil
    ) async throws -> ParkedRequest {
        let before = service.lockCount
        let connection = try await connect()
        let response = connection.send(
            TestRequest(.POST, "/locks/\(resource)",
                        body: lockBody(title: title, lifetime: lifetime, wait: wait, mode: mode)),
            timeout: .seconds(Int64(wait) + 10))
        try await eventually("\(title) is queued on \(resource)") { service.lockCount > before }
        return ParkedRequest(connection: connection, response: response)
    }

    /// Whether a normal acquire and release still work (after bad input, say).
    func stillServes() async throws -> Bool {
        let resource = "ok\(Int.random(in: 0..<1_000_000))"
        let acquired = try await acquire(resource, wait: 1)
        guard acquired.status == 201 else { return false }
        let released = try await request(.DELETE, try lockPath(acquired))
        return released.status == 204
    }

    /// Every waiter and holder on a resource, as `GET /resources/{r}` lists them.
    func locks(on resource: String) async throws -> [[String: Any]] {
        let response = try await request(.GET, "/resources/\(resource)")
        try #require(response.status == 200, "GET /resources/\(resource): \(response)")
        let embedded = try response.json()["_embedded"] as? [String: Any]
        return embedded?["locks"] as? [[String: Any]] ?? []
    }
}

/// A waiting acquire and the connection it waits on.
struct ParkedRequest: Sendable {
    let connection: TestConnection
    let response: EventLoopFuture<TestResponse>

    func answer() async throws -> TestResponse {
        try await response.get()
    }
}

/// The JSON body of an acquire.
func lockBody(title: String = "test", lifetime: Double = 30, wait: Double = 5, mode: String? = nil) -> String {
    var members = [
        "\"title\": \(jsonString(title))",
        "\"lifetime\": \(number(lifetime))",
        "\"wait\": \(number(wait))",
    ]
    if let mode { members.append("\"mode\": \(jsonString(mode))") }
    return "{" + members.joined(separator: ", ") + "}"
}

private func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}

func jsonString(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
}

/// The path of the lock URL in a 201's `Location`.
func lockPath(_ response: TestResponse) throws -> String {
    let location = try #require(response.header("Location"), "no Location in \(response)")
    let url = try #require(URL(string: location), "Location is not a URL: \(location)")
    return url.path
}

/// The uid at the end of a lock path.
func uid(ofLockPath path: String) -> String {
    String(path.split(separator: "/").last ?? "")
}

/// Seconds elapsed since `start`, as a Double.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let (whole, fraction) = (ContinuousClock.now - start).components
    return Double(whole) + Double(fraction) / 1e18
}

/// The Basic `Authorization` header value for `credentials`.
func basic(_ credentials: String) -> String {
    "Basic " + Data(credentials.utf8).base64EncodedString()
}

/// Parses the part of a timestamp clients rely on: its first 19 characters.
func parseTimestamp(_ value: Any?) -> Date? {
    guard let text = value as? String, text.count >= 19 else { return nil }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
    return formatter.date(from: String(text.prefix(19)))
}

/// A JSON number as a Double, whether it was written as an integer or not.
func double(_ value: Any?) -> Double? {
    switch value {
    case let number as Int: return Double(number)
    case let number as Double: return number
    case let number as NSNumber: return number.doubleValue
    default: return nil
    }
}

/// `_links.{name}.href` of a HAL object.
func link(_ object: [String: Any], _ name: String) -> String? {
    ((object["_links"] as? [String: Any])?[name] as? [String: Any])?["href"] as? String
}

/// A JSON integer as a UInt64.
func integer(_ value: Any?) -> UInt64? {
    switch value {
    case let number as Int: return UInt64(exactly: number)
    case let number as UInt64: return number
    case let number as NSNumber: return number.uint64Value
    default: return nil
    }
}
