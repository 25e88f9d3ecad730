import Testing
@testable import RDLMServer

@Suite("Log throttle")
struct LogThrottleTests {
    @Test("one line per interval, reporting how many were held back")
    func onePerInterval() {
        var throttle = LogThrottle(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(throttle.admit(at: start) == 0)
        for second in 1...9 { #expect(throttle.admit(at: start + .seconds(second)) == nil) }
        #expect(throttle.suppressed == 9)
        #expect(throttle.admit(at: start + .seconds(10)) == 9)
        #expect(throttle.admit(at: start + .seconds(11)) == nil)
        #expect(throttle.admit(at: start + .seconds(25)) == 1)
    }
}
