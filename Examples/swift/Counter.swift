// One of several processes that each add to a shared counter file: read the number, pause,
// write the number plus one. With the lock the final count is exact; without it the
// processes overwrite each other's updates.
//
// Usage: counter-example [--no-lock] FILE INCREMENTS [GO_FILE]
//   RDLM_SERVER (default http://127.0.0.1:8888) and RDLM_RESOURCE (default "counter") say
//   which lock to take. With GO_FILE, the process waits until that file exists, so that a
//   runner can start every process at the same moment.
import Foundation
import RDLMClient

@main
struct CounterExample {
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let useLock = arguments.first != "--no-lock"
        if !useLock { arguments.removeFirst() }
        guard (2...3).contains(arguments.count), let increments = Int(arguments[1]), increments > 0 else {
            fail("usage: counter-example [--no-lock] FILE INCREMENTS [GO_FILE]", status: 2)
        }
        let path = arguments[0]
        let goFile = arguments.count == 3 ? arguments[2] : nil
        let environment = ProcessInfo.processInfo.environment
        let server = environment["RDLM_SERVER"] ?? "http://127.0.0.1:8888"
        let resource = environment["RDLM_RESOURCE"] ?? "counter"
        guard let baseURL = URL(string: server) else { fail("counter-example: bad server URL \(server)", status: 2) }

        do {
            if !useLock {
                await waitFor(goFile)
                for _ in 0..<increments { try await increment(path) }
                return
            }
            let configuration = RDLMClient.Configuration(baseURL: baseURL, defaultTitle: "Examples/swift/counter")
            try await RDLMClient.withClient(configuration: configuration) { client in
                await waitFor(goFile)
                for _ in 0..<increments {
                    // Acquired, held (and refreshed if the body outlived a third of the
                    // lifetime) while the body runs, released when it returns or throws.
                    try await client.withLock(resource, lifetime: .seconds(10), wait: .seconds(30)) { _ in
                        try await increment(path)
                    }
                }
            }
        } catch {
            fail("counter-example: \(error)", status: 1)
        }
    }

    /// The read-modify-write the lock must protect; the pause widens the race window.
    static func increment(_ path: String) async throws {
        let count = readCount(path)
        try await Task.sleep(for: .milliseconds(5))
        try "\(count + 1)\n".write(toFile: path, atomically: false, encoding: .utf8)
    }

    static func readCount(_ path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static func waitFor(_ goFile: String?) async {
        guard let goFile else { return }
        while !FileManager.default.fileExists(atPath: goFile) {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(status)
    }
}
