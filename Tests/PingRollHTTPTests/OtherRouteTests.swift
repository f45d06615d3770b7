import Foundation
import Testing
import PingRollCore
@testable import PingRollHTTP
@testable import PingRollStore

@Suite struct OtherRouteTests {
    @Test func errorReportsAndMetadataAreStoredAndAnswered201() throws {
        let h = try ResponderHarness()
        let e = h.postJSON("/usage_ping_errors", #"{"error":{"time":"2024-01-15T10:00:00Z","uuid":"u","hostname":"h","version":"16.5.1","message":"timeout","elapsed":3.2}}"#)
        #expect(e.status == 201 && e.text == "{}")
        let m = h.postJSON("/usage_ping_metadata", #"{"metadata":{"uuid":"u","metrics":[{"name":"counts.issues","time_elapsed":0.1},{"name":"counts.boards","time_elapsed":0.2,"error":"x"}]}}"#)
        #expect(m.status == 201 && m.text == "{}")
        let stats = try h.store.statistics()
        #expect(stats.pingErrors == 1 && stats.pingMetadata == 1)
    }

    @Test(arguments: [("/usage_ping_errors", #"{"metadata":{}}"#), ("/usage_ping_metadata", #"{"error":{}}"#),
                      ("/usage_ping_errors", #"{"error":"text"}"#), ("/usage_ping_metadata", "[]")])
    func reportsWithoutTheirObjectGet422(path: String, body: String) throws {
        let h = try ResponderHarness()
        let r = h.postJSON(path, body)
        #expect(r.status == 422 && r.errorCode == "invalid_field")
        #expect(try h.store.quarantine(limit: 1).first?.record.route == path)
    }

    @Test func unknownRoutesGet404AndWrongMethods405WithAllow() throws {
        let h = try ResponderHarness()
        let missing = h.send("GET", "/nope")
        #expect(missing.status == 404 && missing.errorCode == "not_found")
        let wrong = h.send("GET", "/usage_data")
        #expect(wrong.status == 405 && wrong.header("Allow") == "POST" && wrong.errorCode == "method_not_allowed")
        let wrongGet = h.send("DELETE", "/healthz")
        #expect(wrongGet.status == 405 && wrongGet.header("Allow") == "GET, HEAD")
    }

    @Test func aPostWithoutALengthGets411() throws {
        let h = try ResponderHarness()
        let head = HTTPRequestHead(method: "POST", path: "/usage_data", headers: HTTPHeaders([("Content-Type", "application/json")]))
        guard case .respond(let r) = h.responder.head(head) else { Issue.record("expected an early answer"); return }
        #expect(r.status == 411 && r.errorCode == "length_required")
        let chunked = HTTPRequestHead(method: "POST", path: "/usage_data", headers: HTTPHeaders([("Transfer-Encoding", "chunked")]))
        guard case .readBody = h.responder.head(chunked) else { Issue.record("chunked bodies need no length"); return }
    }

    @Test func healthAndReadiness() throws {
        let h = try ResponderHarness()
        #expect(h.send("GET", "/healthz").text == #"{"status":"ok"}"#)
        #expect(h.send("GET", "/readyz").status == 200)
        h.store.close()
        let r = h.send("GET", "/readyz")
        #expect(r.status == 503 && r.errorCode == "not_ready" && r.header("Retry-After") != nil)
    }

    @Test func readinessIs503WhileWritesFail() throws {
        let h = try ResponderHarness()
        let ping = Array(#"{"uuid":"u","recorded_at":"2024-01-15T10:00:00Z"}"#.utf8)
        #expect(h.send("POST", "/usage_data", headers: [("Content-Type", "application/json")], body: ping).status == 201)
        // Another connection breaks the schema: reads still work, every write now fails.
        let other = try SQLiteConnection(path: h.store.path)
        _ = try other.query("DROP TABLE ingest_daily", [], operation: "test")
        other.close()
        let failed = h.send("POST", "/usage_data", headers: [("Content-Type", "application/json")],
                            body: Array(#"{"uuid":"v","recorded_at":"2024-01-15T10:00:00Z"}"#.utf8))
        #expect(failed.status >= 500)
        let r = h.send("GET", "/readyz")
        #expect(r.status == 503 && r.errorCode == "not_ready" && r.text.contains("does not take writes"), "\(r.text)")
    }

    @Test func theUploadPageOffersAFileForm() throws {
        let h = try ResponderHarness()
        let page = h.send("GET", "/usage_data/new")
        #expect(page.status == 200 && page.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(page.text.contains(#"enctype="multipart/form-data""#) && page.text.contains(#"action="/usage_data/new""#))
    }

    @Test func anUploadedFileTakesTheIngestPathAndShowsTheId() throws {
        let h = try ResponderHarness()
        let body = "--b0undary\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"usage.json\"\r\n"
            + "Content-Type: application/json\r\n\r\n\(ping())\r\n--b0undary--\r\n"
        let r = h.send("POST", "/usage_data/new", headers: [("Content-Type", "multipart/form-data; boundary=b0undary")], body: Array(body.utf8))
        #expect(r.status == 201)
        let direct = h.postJSON("/usage_data", ping())
        #expect(r.text.contains(#"<strong id="usage-data-id">\#(direct.usageDataID ?? -1)</strong>"#))
    }

    @Test func aBadUploadShowsTheErrorEscaped() throws {
        let h = try ResponderHarness()
        let body = "--b\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"x.json\"\r\n\r\n{\"uuid\":\"<script>\"}\r\n--b--\r\n"
        let r = h.send("POST", "/usage_data/new", headers: [("Content-Type", "multipart/form-data; boundary=b")], body: Array(body.utf8))
        #expect(r.status == 422)
        #expect(r.text.contains("recorded_at") && !r.text.contains("<script>"))
        #expect(try h.store.quarantine(limit: 1).first?.record.route == "/usage_data/new")
    }
}
