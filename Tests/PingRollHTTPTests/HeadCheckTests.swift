import Testing
@testable import PingRollHTTP

@Suite struct HeadCheckTests {
    func check(_ text: String) -> HeadCheck.Rejection? { HeadCheck.check(Array(text.utf8)[...]) }

    @Test func wellFormedHeadsPass() {
        #expect(check("POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n") == nil)
        #expect(check("GET /healthz HTTP/1.0\r\n\r\n") == nil)
        #expect(check("GET / HTTP/1.1\nHost: x\nContent-Length: 3\nContent-Length: 3\n\n") == nil, "equal repeats are harmless")
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "bad_request"),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request"),
        ("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400, "bad_request"),
        ("POST / HTTP/1.1\r\ncontent-length: 2\r\nContent-Length: 3\r\n\r\n", 400, "bad_request"),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413, "payload_too_large"),
        ("POST / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported"),
        ("GET /a\u{0}b HTTP/1.1\r\n\r\n", 400, "bad_request"),
        ("NONSENSE\r\n\r\n", 400, "bad_request"),
    ])
    func framingErrorsLibmicrohttpdWouldAnswerItselfAreCaught(head: String, status: Int, code: String) throws {
        let rejection = try #require(check(head))
        #expect(rejection.error.status == status && rejection.error.code == code)
    }

    @Test func theEndOfAHeadIsFoundWhereverTheSearchResumes() {
        let text = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody".utf8)
        text.withUnsafeBytes { bytes in
            for from in 0...26 { #expect(HeadCheck.headEnd(in: bytes, from: from) == 27, "from \(from)") }
            #expect(HeadCheck.headEnd(in: UnsafeRawBufferPointer(rebasing: bytes[0..<20]), from: 0) == nil)
        }
        Array("GET / HTTP/1.1\nHost: x\n\n".utf8).withUnsafeBytes { #expect(HeadCheck.headEnd(in: $0, from: 0) == 24) }
    }
}
