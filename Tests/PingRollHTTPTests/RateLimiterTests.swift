import Testing
@testable import PingRollHTTP

@Suite struct RateLimiterTests {
    @Test func aBurstIsAllowedThenRequestsWaitForTheRate() {
        let limiter = RateLimiter(perMinute: 60, burst: 3)
        #expect((0..<3).allSatisfy { _ in limiter.admit("10.0.0.1", now: 1000) == nil })
        #expect(limiter.admit("10.0.0.1", now: 1000) == 1)
        #expect(limiter.admit("10.0.0.2", now: 1000) == nil, "another address has its own bucket")
        #expect(limiter.admit("10.0.0.1", now: 1001) == nil, "one a second comes back")
        #expect(limiter.admit("10.0.0.1", now: 1001) == 1)
        #expect(limiter.admit("10.0.0.1", now: 900) != nil, "a clock that steps back adds nothing")
    }

    @Test func ipv6ClientsShareABucketPerSlash64AndMappedIPv4CountsAsIPv4() {
        #expect(RateLimiter.key("2001:db8:1:2::5") == RateLimiter.key("2001:db8:1:2:ffff::9"))
        #expect(RateLimiter.key("2001:db8:1:2::5") != RateLimiter.key("2001:db8:1:3::5"))
        #expect(RateLimiter.key("::ffff:10.1.2.3") == "10.1.2.3")
        let limiter = RateLimiter(perMinute: 1, burst: 1)
        #expect(limiter.admit("2001:db8:1:2::5", now: 0) == nil)
        #expect(limiter.admit("2001:db8:1:2::6", now: 0) == 60)
    }

    @Test func memoryStaysBoundedWhateverTheNumberOfAddresses() {
        let limiter = RateLimiter(perMinute: 10, burst: 10)
        for i in 0..<(RateLimiter.maxClients + 20_000) {
            _ = limiter.admit("10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)", now: 5)
        }
        #expect(limiter.clientCount <= RateLimiter.maxClients)
    }
}
