import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Scenario 6 (start-up): spawns the daemon, then polls `GET /` until it answers 200; the
/// time from just before the spawn to the answer. Polls with blocking loopback sockets
/// (a refused connect returns at once), `pollMicros` apart, so the poller leaves the
/// starting daemon most of the second core.
struct StartupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup",
        abstract: "Scenario 6: time from spawning the daemon to its first answered request.")

    @Option(help: "The daemon binary.")
    var binary: String

    @Option(help: "Start-ups to time.")
    var runs = 10

    @Option(help: "Microseconds between connection attempts.")
    var pollMicros = 100

    @Argument(help: "Arguments for the daemon (after --); --port is added.")
    var daemonArguments: [String] = []

    func run() throws {
        var times: [Double] = []
        for _ in 0..<runs {
            let port = try freePort()
            let started = now()
            let pid = try spawn(binary, daemonArguments + ["--port", String(port)])
            defer {
                kill(pid, SIGTERM)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            let deadline = started + 10_000_000_000
            var answered = false
            while now() < deadline {
                if getAnswersOK(port: port) {
                    answered = true
                    break
                }
                usleep(UInt32(pollMicros))
            }
            guard answered else { throw LoadgenError("\(binary) did not answer GET / within 10 s") }
            times.append(Double(now() - started) / 1e6)
        }
        let sorted = times.sorted()
        try emit(StartupReport(
            runs: times.count, median_ms: sorted[sorted.count / 2].rounded(toPlaces: 2),
            min_ms: sorted.first!.rounded(toPlaces: 2), max_ms: sorted.last!.rounded(toPlaces: 2),
            first_ms: times.first!.rounded(toPlaces: 2), poll_micros: pollMicros))
    }
}

struct StartupReport: Encodable {
    var runs: Int
    var median_ms: Double
    var min_ms: Double
    var max_ms: Double
    /// The first start-up, with colder caches than the rest.
    var first_ms: Double
    var poll_micros: Int
}

private func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

private func withSockaddr<T>(_ address: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A loopback port that nothing listens on right now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LoadgenError("socket: \(errno)") }
    defer { close(fd) }
    var address = loopback(port: 0)
    guard withSockaddr(&address, { bind(fd, $0, $1) }) == 0 else { throw LoadgenError("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One connect + `GET /`; true when the answer starts with a 200 status line.
private func getAnswersOK(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = loopback(port: port)
    guard withSockaddr(&address, { connect(fd, $0, $1) }) == 0 else { return false }
    let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
    guard request.withCString({ write(fd, $0, strlen($0)) }) > 0 else { return false }
    var buffer = [UInt8](repeating: 0, count: 512)
    var received = 0
    while received < 12 {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + received, $0.count - received) }
        guard count > 0 else { return false }
        received += count
    }
    return String(decoding: buffer[0..<12], as: UTF8.self) == "HTTP/1.1 200"
}

/// posix_spawn with the daemon's output sent to /dev/null (ours carries the JSON result).
private func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard result == 0 else { throw LoadgenError("posix_spawn \(path): \(result)") }
    return pid
}
