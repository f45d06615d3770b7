import Foundation
import Testing
import PingRollCore
@testable import PingRollService
@testable import PingRollHTTP
@testable import PingRollStore

@Suite struct IngestRouteTests {
    @Test func aPingIsAnswered201WithItsUsageDataIdAsGitLabExpects() throws {
        let h = try ResponderHarness()
        let r = h.postJSON("/usage_data", ping())
        #expect(r.status == 201)
        #expect(r.header("Content-Type") == "application/json")
        let id = try #require(r.usageDataID)
        #expect(id > 0)
        let stored = try #require(try h.store.ping(id: Int64(id)))
        #expect(stored.payload == Array(ping().utf8))
        #expect(stored.dbEnabled == true && stored.registryVendor == "gitlab")
    }

    @Test func aDuplicateWrittenWithAnotherOffsetGetsTheSameId() throws {
        let h = try ResponderHarness()
        let first = h.postJSON("/usage_data", ping(hostname: "GitLab.Example.com", recordedAt: "2024-01-15T10:00:00.000Z"))
        let again = h.postJSON("/usage_data", ping(hostname: " gitlab.example.com", recordedAt: "2024-01-15T11:00:00+01:00"))
        #expect(first.status == 201 && again.status == 201)
        #expect(first.usageDataID != nil && first.usageDataID == again.usageDataID)
        #expect(try h.store.statistics().pings == 1)
    }

    @Test(arguments: ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.gitlab+json"])
    func jsonMediaTypesAreAccepted(contentType: String) throws {
        let h = try ResponderHarness()
        #expect(h.postJSON("/usage_data", ping(), headers: [("Content-Type", contentType)]).status == 201)
    }

    @Test(arguments: [nil, "text/plain", "application/x-www-form-urlencoded", "application/jsonp"] as [String?])
    func otherMediaTypesGet415SayingWhatToSend(contentType: String?) throws {
        let h = try ResponderHarness()
        let r = h.postJSON("/usage_data", ping(), headers: contentType.map { [("Content-Type", $0)] } ?? [])
        #expect(r.status == 415 && r.errorCode == "unsupported_media_type")
        #expect(r.text.contains("application/json"))
        #expect(try h.store.quarantine(limit: 5).first?.record.status == 415)
    }

    @Test func gzipBodiesAreDecompressed() throws {
        let h = try ResponderHarness()
        let r = h.send("POST", "/usage_data", headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                       body: Gzip.compress(Array(ping().utf8)))
        #expect(r.status == 201)
        #expect(try h.store.ping(id: Int64(r.usageDataID ?? 0))?.payload == Array(ping().utf8))
    }

    @Test func aGzipBombIsRefusedWith413() throws {
        var limits = IngestLimits()
        limits.maxDecompressedBytes = 1 << 20
        let h = try ResponderHarness(limits: limits)
        let bomb = Gzip.compress(Array(ping(extra: #","pad":""# + String(repeating: " ", count: 2 << 20) + #"""#).utf8))
        #expect(bomb.count < 64 << 10)
        let r = h.send("POST", "/usage_data", headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], body: bomb)
        #expect(r.status == 413 && r.errorCode == "payload_too_large")
        #expect(try h.store.quarantine(limit: 1).first?.record.reason == "payload_too_large")
    }

    @Test func corruptGzipAndUnknownEncodingsAreRefused() throws {
        let h = try ResponderHarness()
        let bad = h.send("POST", "/usage_data", headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                         body: Array(ping().utf8))
        #expect(bad.status == 400 && bad.errorCode == "invalid_gzip")
        let br = h.send("POST", "/usage_data", headers: [("Content-Type", "application/json"), ("Content-Encoding", "br")],
                        body: Array(ping().utf8))
        #expect(br.status == 415 && br.errorCode == "unsupported_content_encoding")
    }

    @Test func aBodyOverTheLimitGets413AndIsQuarantinedCapped() throws {
        var limits = IngestLimits()
        limits.maxBodyBytes = 1000
        let h = try ResponderHarness(limits: limits)
        let r = h.postJSON("/usage_data", ping(extra: #","pad":""# + String(repeating: "x", count: 2000) + #"""#))
        #expect(r.status == 413 && r.errorCode == "payload_too_large")
        h.drain()
        let entry = try #require(try h.store.quarantine(limit: 1).first)
        #expect(entry.record.status == 413 && entry.record.body.count == 1000 && entry.record.bodyTruncated)
    }

    @Test(arguments: [
        ("{not json", 400, "invalid_json"),
        ("[1,2,3]", 400, "not_an_object"),
        (String(repeating: "[", count: 200), 400, "too_deep"),
        (#"{"recorded_at":"2024-01-15T10:00:00Z"}"#, 422, "invalid_field"),
        (#"{"uuid":"u"}"#, 422, "invalid_field"),
        (#"{"uuid":"u","recorded_at":"soon"}"#, 422, "invalid_field"),
        (#"{"uuid":"u","recorded_at":"2999-01-01T00:00:00Z"}"#, 422, "recorded_in_future"),
    ])
    func badBodiesGetAJSONErrorAndAreQuarantined(body: String, status: Int, code: String) throws {
        let h = try ResponderHarness()
        let r = h.postJSON("/usage_data", body)
        #expect(r.status == status && r.errorCode == code)
        let entry = try #require(try h.store.quarantine(limit: 1).first)
        #expect(entry.record.status == status && entry.record.reason == code && entry.record.body == Array(body.utf8))
        #expect(entry.record.route == "/usage_data" && entry.record.remoteAddress == "127.0.0.1")
        #expect(try h.store.statistics().pings == 0)
    }

    @Test func invalidUTF8IsInvalidJSON() throws {
        let h = try ResponderHarness()
        var body = Array(ping().utf8)
        body[10] = 0xFF
        let r = h.send("POST", "/usage_data", headers: [("Content-Type", "application/json")], body: body)
        #expect(r.status == 400 && r.errorCode == "invalid_json")
    }

    @Test func aStoreThatCannotWriteAnswers503WithRetryAfter() throws {
        let h = try ResponderHarness()
        h.committer.shutdown()
        let r = h.postJSON("/usage_data", ping())
        #expect(r.status == 503 && r.header("Retry-After") == "5")
        #expect(try h.store.statistics().pings == 0)
    }
}
