import Testing
@testable import PingRollCore

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2024-01-15T10:00:00Z", 1_705_312_800_000 as Int64),
        ("2024-01-15T10:00:00.123Z", 1_705_312_800_123),
        ("2024-01-15T10:00:00.123456789Z", 1_705_312_800_123),
        ("2024-01-15T10:00:00.5Z", 1_705_312_800_500),
        ("2024-01-15T12:00:00+02:00", 1_705_312_800_000),
        ("2024-01-15T05:30:00-0430", 1_705_312_800_000),
        ("2024-01-15 10:00:00 UTC", 1_705_312_800_000),
        ("2024-01-15 10:00:00 +0000", 1_705_312_800_000),
        ("2024-01-15t10:00:00z", 1_705_312_800_000),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
        ("2016-12-31T23:59:60Z", 1_483_228_799_000),
    ])
    func parsesTheFormsGitLabSends(text: String, ms: Int64) {
        #expect(Timestamp.parseISO8601(text)?.milliseconds == ms)
    }

    @Test(arguments: [
        "", "2024-01-15", "2024-01-15T10:00:00", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z", "2024-01-15T24:00:00Z", "2024-01-15T10:60:00Z", "2024-01-15T10:00:00.Z",
        "2024-01-15T10:00:00Z junk", "2024-01-15T10:00:00+25:00", "yesterday", "2024-1-15T10:00:00Z",
    ])
    func rejectsAnythingElse(text: String) {
        #expect(Timestamp.parseISO8601(text) == nil)
    }

    @Test func printsUTCWithMilliseconds() {
        #expect(Timestamp(milliseconds: 1_705_312_800_123).description == "2024-01-15T10:00:00.123Z")
        #expect(Timestamp(milliseconds: -1).description == "1969-12-31T23:59:59.999Z")
    }

    @Test func roundTripsThroughItsDescription() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let t = Timestamp(milliseconds: Int64.random(in: -62_000_000_000_000...253_000_000_000_000, using: &rng))
            #expect(Timestamp.parseISO8601(t.description) == t)
        }
    }
}
