@testable import PingRollHTTP
import Testing

@Suite struct RequestTargetTests {
    func problem(_ bytes: [UInt8]) -> HTTPError? { bytes.withUnsafeBytes { RequestTarget.problem($0) } }

    @Test func targetsWithAndWithoutEscapesAreJudgedAlike() {
        #expect(problem(Array("/usage_data?a=b&c".utf8)) == nil)
        #expect(problem(Array("/heal%74hz?x=%2F".utf8)) == nil)
        #expect(problem(Array("/caf\u{e9}".utf8)) == nil)
        // Not UTF-8, raw or escaped.
        #expect(problem(Array("/a".utf8) + [0xFF]) != nil)
        #expect(problem(Array("/a%FF".utf8)) != nil)
        // A query may carry any bytes but NUL and bad escapes.
        #expect(problem(Array("/a?x=".utf8) + [0xFF]) == nil)
        #expect(problem(Array("/a?x=%00".utf8)) != nil && problem(Array("/a%2fb".utf8)) != nil && problem(Array("/a%".utf8)) != nil)
    }
}
