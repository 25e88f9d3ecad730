import Foundation
import Logging
import NIOCore
import NIOPosix
import RDLMEtcd
import Synchronization
import Testing

/// The cluster scripts/etcd-cluster.sh runs in `RDLM_TEST_ETCD_FAULT_DIR`, else in
/// `RDLM_TEST_ETCD_DIR`. These tests kill and pause its members, so scripts/test.sh gives
/// them a cluster of their own: the lock service's suites, which run at the same time, use
/// the other and would see its outages. Without either variable the suites are skipped,
/// and say so.
enum EtcdCluster {
    static let directory = ProcessInfo.processInfo.environment["RDLM_TEST_ETCD_FAULT_DIR"]
        ?? ProcessInfo.processInfo.environment["RDLM_TEST_ETCD_DIR"]
    static let isRunning = directory != nil

    static var endpoints: [String] {
        guard let directory, let text = try? String(contentsOfFile: directory + "/endpoints", encoding: .utf8) else { return [] }
        return text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
    }

    /// Runs `etcd-cluster.sh COMMAND DIR MEMBER`; start-member waits until it serves. Through
    /// system(3), not Foundation's Process: Process waits until every holder of its pipe is
    /// gone, and the member the script starts in the background would be one.
    static func run(_ command: String, member: Int) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/etcd-cluster.sh").standardized.path
        let line = [script, command, directory!, String(member)].map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            .joined(separator: " ")
        let status = system(line)
        guard status == 0 else {
            throw ConditionFailed(description: "etcd-cluster.sh \(command) \(member) exited with status \(status)")
        }
    }

    /// A client of the cluster, endpoints in `order` (member numbers), shut down after `body`.
    static func withClient<Result>(
        order: [Int] = [1, 2, 3], requestTimeout: Duration = .seconds(2),
        _ body: (EtcdClient) async throws -> Result
    ) async throws -> Result {
        let all = endpoints
        return try await withClient(endpoints: order.map { all[$0 - 1] }, requestTimeout: requestTimeout, body)
    }

    static func withClient<Result>(
        endpoints: [String], requestTimeout: Duration = .seconds(2), watchReconnectWindow: Duration = .seconds(3),
        _ body: (EtcdClient) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "rdlm.etcd.test")
        logger.logLevel = ProcessInfo.processInfo.environment["RDLM_TEST_ETCD_DEBUG"] != nil ? .debug : .info
        let client = EtcdClient(
            endpoints: endpoints, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            requestTimeout: requestTimeout, watchReconnectWindow: watchReconnectWindow, logger: logger
        )
        do {
            let result = try await body(client)
            try await client.shutdown().get()
            return result
        } catch {
            try? await client.shutdown().get()
            throw error
        }
    }

    /// A prefix no other test writes under.
    static func uniquePrefix(_ test: String) -> String { "/rdlm-test/\(test)/\(UUID().uuidString)/" }
}

struct ConditionFailed: Error, CustomStringConvertible {
    var description: String
}

/// What a watch delivered, for a test to look at from outside the event loop.
final class WatchLog: Sendable {
    private let updates = Mutex<[EtcdWatchUpdate]>([])

    func record(_ update: EtcdWatchUpdate) { updates.withLock { $0.append(update) } }

    var all: [EtcdWatchUpdate] { updates.withLock { $0 } }

    /// Every event delivered, with the revision its update named.
    var events: [EtcdEvent] {
        all.flatMap { update -> [EtcdEvent] in
            if case .events(_, let events) = update { return events }
            return []
        }
    }

    var ended: EtcdError? {
        for update in all { if case .ended(let error) = update { return error } }
        return nil
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
