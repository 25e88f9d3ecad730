import Foundation
import Glibc
import Logging
import Synchronization
import Testing
@testable import RDLMServer

@Suite("--log-format json")
struct JSONLogHandlerTests {
    @Test("a line is one JSON object with time, level, label, source, message and metadata, escaped")
    func line() throws {
        let text = JSONLogHandler.line(
            time: timespec(tv_sec: 1_796_345_727, tv_nsec: 3_680_000), level: .warning, label: "rdlmd", source: "RDLMServer",
            message: "failed \"admin\" login\nsecond line", metadata: ["count": "3", "nested": ["b": ["x", "y"], "a": "1"]])
        #expect(!text.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "2026-12-04T00:55:27.003Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "rdlmd")
        #expect(object["source"] as? String == "RDLMServer")
        #expect(object["message"] as? String == "failed \"admin\" login\nsecond line")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["count"] as? String == "3")
        #expect((metadata["nested"] as? [String: Any])?["b"] as? [String] == ["x", "y"])
        #expect(text.contains(#""metadata":{"count":"3","nested":{"a":"1","b":["x","y"]}}"#))
    }

    @Test("the handler merges its own metadata with the call's, and honours its level")
    func handler() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "t") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = .info
        handler[metadataKey: "daemon"] = "a"
        let logger = Logger(label: "t") { _ in handler }
        logger.debug("not written")
        logger.info("written", metadata: ["lock": "1"])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: Any])
        #expect(object["message"] as? String == "written")
        #expect(object["metadata"] as? [String: String] == ["daemon": "a", "lock": "1"])
    }
}
