import Testing
@testable import RDLMServer

@Suite("Wall-clock timestamps")
struct WallClockTests {
    @Test("timestamps are the original's ISO 8601 form with microseconds and a Z", arguments: [
        (Int64(1_358_895_676_771_799_000), "2013-01-22T23:01:16.771799Z"),
        (0, "1970-01-01T00:00:00.000000Z"),
        (-1_000, "1969-12-31T23:59:59.999999Z"),
        (4_102_444_799_000_001_999, "2099-12-31T23:59:59.000001Z"),
    ])
    func format(nanoseconds: Int64, expected: String) {
        let clock = WallClock()
        #expect(clock.timestamp(clock.instant(nanoseconds)) == expected)
    }
}
