@testable import PingRollHTTP
import Testing

@Suite struct RedactionTests {
    @Test func credentialHeadersAndParametersAreMaskedAndTheRestKeptByteForByte() {
        let head = "GET /x?token=abc&keep=1&ACCESS_TOKEN=def HTTP/1.1\r\nHost: h\r\nauthorization :Bearer t\r\nCookie: a=b\r\nX-Other: token=keep\r\n\r\n"
        let redacted = String(decoding: Redaction.head(Array(head.utf8)), as: UTF8.self)
        #expect(redacted == "GET /x?token=[redacted]&keep=1&ACCESS_TOKEN=[redacted] HTTP/1.1\r\nHost: h\r\nauthorization : [redacted]\r\nCookie: [redacted]\r\nX-Other: token=keep\r\n\r\n")
    }

    @Test func aHeadWithoutSecretsIsUnchanged() {
        for head in ["", "GARBAGE", "GET / HTTP/1.1\n\n", "POST /usage_data HTTP/1.1\r\nContent-Length: 2\r\n\r\n", "GET /?token HTTP/1.0\r\n"] {
            #expect(Redaction.head(Array(head.utf8)) == Array(head.utf8), "\(head)")
        }
    }
}
