import Testing
@testable import PingRollCore

@Suite struct MultipartFormTests {
    @Test func splitsABrowserUploadIntoParts() throws {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"usage.json\"\r\n"
            + "Content-Type: application/json\r\n\r\n{\"uuid\":\"u\"}\r\n--XyZ--\r\n"
        let form = try MultipartForm(body: Array(body.utf8), boundary: "XyZ")
        #expect(form.parts.count == 2)
        #expect(form.parts[1].name == "payload" && form.parts[1].filename == "usage.json")
        #expect(form.parts[1].contentType == "application/json")
        #expect(String(decoding: form.parts[1].body, as: UTF8.self) == #"{"uuid":"u"}"#)
    }

    @Test func readsTheBoundaryParameter() {
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=----abc") == "----abc")
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; charset=utf-8; boundary=\"q r\"") == "q r")
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data") == nil)
    }

    @Test(arguments: ["", "no delimiter here", "--XyZ\r\nContent-Disposition: form-data\r\n\r\nunterminated", "--XyZjunk"])
    func rejectsMalformedBodies(body: String) {
        #expect(throws: MultipartForm.ParseError.malformed) { try MultipartForm(body: Array(body.utf8), boundary: "XyZ") }
    }

    @Test func boundariesMustBeOneToSeventyCharacters() throws {
        for boundary in ["", String(repeating: "x", count: 71)] {
            #expect(throws: MultipartForm.ParseError.invalidBoundary) { try MultipartForm(body: Array("--\(boundary)--".utf8), boundary: boundary) }
        }
        let seventy = String(repeating: "x", count: 70)
        let body = "--\(seventy)\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{}\r\n--\(seventy)--\r\n"
        #expect(try MultipartForm(body: Array(body.utf8), boundary: seventy).parts.first?.body == Array("{}".utf8))
    }

    @Test func theLinearSearchFindsWhatANaiveSearchFinds() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let pattern = (0..<Int.random(in: 1...6, using: &rng)).map { _ in UInt8.random(in: 97...99, using: &rng) }
            let text = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 97...99, using: &rng) }
            let start = Int.random(in: 0...text.count, using: &rng)
            let naive = text[start...].firstRange(of: pattern)
            #expect(ByteSearch(pattern).firstRange(in: text, from: start) == naive, "\(pattern) in \(text) from \(start)")
        }
    }
}
