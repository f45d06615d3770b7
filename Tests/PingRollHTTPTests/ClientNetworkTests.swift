import Testing
@testable import PingRollHTTP

@Suite struct ClientNetworkTests {
    @Test func networksMatchTheirAddressesOnly() throws {
        let ten = try #require(ClientNetwork("10.0.0.0/8"))
        #expect(ten.contains("10.255.1.2") && !ten.contains("11.0.0.1") && !ten.contains("::1"))
        #expect(ten.contains("::ffff:10.1.2.3"), "an IPv4 client seen over IPv6")
        let host = try #require(ClientNetwork("192.168.1.5"))
        #expect(host.contains("192.168.1.5") && !host.contains("192.168.1.6") && host.description == "192.168.1.5/32")
        let odd = try #require(ClientNetwork("172.16.0.0/12"))
        #expect(odd.contains("172.31.255.255") && !odd.contains("172.32.0.0"))
        #expect(ClientNetwork("10.1.2.3/8")?.description == "10.0.0.0/8", "host bits are dropped")
        let v6 = try #require(ClientNetwork("fd00::/8"))
        #expect(v6.contains("fd12:3456::1") && !v6.contains("fe80::1") && !v6.contains("10.0.0.1"))
        let all = try #require(ClientNetwork("0.0.0.0/0"))
        #expect(all.contains("8.8.8.8") && !all.contains("::1"))
        #expect(try #require(ClientNetwork("::1")).contains("::1"))
    }

    @Test(arguments: ["", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.256",
                      "localhost", "10.0.0.0/٨", "10.0.0.0/0008", String(repeating: "1", count: 10_000), "1.2.3.4\u{0}", " 10.0.0.0/8"])
    func malformedNetworksAreRefused(text: String) {
        #expect(ClientNetwork(text) == nil)
    }

    @Test func malformedClientAddressesMatchNothing() throws {
        let all = try #require(ClientNetwork("0.0.0.0/0"))
        for address in ["", "garbage", String(repeating: "9", count: 5_000), "1.2.3"] { #expect(!all.contains(address)) }
    }
}
