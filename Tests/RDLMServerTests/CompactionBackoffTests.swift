import Testing
@testable import RDLMServer

@Suite("Compaction backoff")
struct CompactionBackoffTests {
    @Test("each failure doubles the wait from 100 ms up to 30 s, and attempts before it are refused")
    func doubling() {
        var backoff = CompactionBackoff()
        var now = ContinuousClock.now
        #expect(backoff.allowsAttempt(at: now))
        var waits: [Duration] = []
        for _ in 0..<12 {
            let wait = backoff.failed(at: now)
            waits.append(wait)
            #expect(!backoff.allowsAttempt(at: now + wait - .milliseconds(1)))
            now += wait
            #expect(backoff.allowsAttempt(at: now))
        }
        #expect(waits.prefix(5) == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1_600)])
        #expect(waits.suffix(3) == [.seconds(30), .seconds(30), .seconds(30)])
        #expect(backoff.failures == 12)
    }

    @Test("a success resets the wait and the failure count")
    func reset() {
        var backoff = CompactionBackoff()
        let now = ContinuousClock.now
        backoff.failed(at: now)
        backoff.failed(at: now)
        backoff.succeeded()
        #expect(backoff.failures == 0)
        #expect(backoff.allowsAttempt(at: now))
        #expect(backoff.failed(at: now) == .milliseconds(100))
    }
}
