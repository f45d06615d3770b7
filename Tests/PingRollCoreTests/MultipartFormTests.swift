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
}
