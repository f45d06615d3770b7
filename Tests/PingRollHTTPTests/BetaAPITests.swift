import Foundation
import Testing
import PingRollCore
@testable import PingRollHTTP
@testable import PingRollStore

@Suite struct BetaAPITests {
    struct Setup {
        let h: ResponderHarness
        let pm: String, viewer: String

        func call(_ method: String, _ path: String, _ json: String? = nil, token: String? = nil) -> HTTPResponse {
            var headers = [("Authorization", "Bearer \(token ?? pm)")]
            if json != nil { headers.append(("Content-Type", "application/json")) }
            return h.send(method, path, headers: headers, body: Array((json ?? "").utf8))
        }
    }

    func setup() throws -> Setup {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        let s = Setup(h: h, pm: try h.store.createToken(name: "pat-pm", role: .pm).text, viewer: try h.store.createToken(name: "vic", role: .viewer).text)
        #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"registry-metadata-db","name":"Registry metadata database","phases":["wave-1","wave-2"]}"#).status == 201)
        return s
    }

    let enrollment = #"{"organization":"ACME","contact_name":"Ann","contact_email":"ann@acme.example","uuid":"acme-uuid","registry_size_bytes":"500GB","storage_driver":"s3","phase":"wave-1"}"#

    @Test func anEnrollmentStartsInterestedAndShowsLiveFactsComputedAtReadTime() throws {
        let s = try setup()
        let created = s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", enrollment)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.json?["status"] as? String == "interested" && created.json?["registry_size_bytes"] as? Int == 500_000_000_000)
        let id = try #require(created.json?["id"] as? Int)
        #expect((created.json?["installation"] as? [String: Any])?["db_enabled"] is NSNull)
        // The installation pings later: the enrollment shows it without being written to.
        let ping = #"{"uuid":"acme-uuid","recorded_at":"2024-05-01T00:00:00Z","version":"16.11.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":true}}"#
        #expect(s.h.postJSON("/usage_data", ping).status == 201)
        let read = s.call("GET", "/api/v1/beta/enrollments/\(id)")
        let facts = try #require(read.json?["installation"] as? [String: Any])
        #expect(facts["db_enabled"] as? Bool == true && facts["version"] as? String == "16.11.0-ee")
        #expect(read.json?["updated_at"] as? String == created.json?["updated_at"] as? String)
    }

    @Test func statusChangesFollowTheRulesAndAreKeptInTheHistory() throws {
        let s = try setup()
        let id = try #require(s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", enrollment).json?["id"] as? Int)
        let path = "/api/v1/beta/enrollments/\(id)"
        let illegal = s.call("PATCH", path, #"{"status":"migrated"}"#)
        #expect(illegal.status == 409)
        #expect(((illegal.json?["error"] as? [String: Any])?["allowed"] as? [String]).map(Set.init) == ["enrolled", "withdrawn", "blocked"])
        #expect(s.call("PATCH", path, #"{"status":"enrolled","notes":"kick-off done"}"#).json?["status"] as? String == "enrolled")
        #expect(s.call("PATCH", path, #"{"status":"blocked"}"#).status == 200)
        #expect(s.call("PATCH", path, #"{"status":"importing"}"#).status == 409)
        #expect(s.call("PATCH", path, #"{"status":"enrolled"}"#).status == 200)
        let before = try #require(s.call("GET", "\(path)/history").json?["history"] as? [[String: Any]]).count
        #expect(s.call("PATCH", path, #"{"status":"enrolled"}"#).status == 200)  // no change, no entry
        let history = try #require(s.call("GET", "\(path)/history").json?["history"] as? [[String: Any]])
        #expect(history.count == before)
        let statusChanges = history.filter { $0["field"] as? String == "status" }.map { "\($0["old"] as? String ?? "-")→\($0["new"] as? String ?? "-")" }
        #expect(statusChanges == ["-→interested", "interested→enrolled", "enrolled→blocked", "blocked→enrolled"])
        #expect(history.allSatisfy { $0["token"] as? String == "pat-pm" })
        #expect(s.call("PATCH", path, #"{"contact_email":"nope"}"#).status == 422)
        #expect(s.call("PATCH", "/api/v1/beta/enrollments/999", #"{"notes":"x"}"#).status == 404)
    }

    @Test func viewersSeeTheSummaryButNoPersonalData() throws {
        let s = try setup()
        let id = try #require(s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", enrollment).json?["id"] as? Int)
        #expect(s.call("POST", "/api/v1/beta/enrollments/\(id)/feedback", #"{"category":"import","rating":4,"text":"smooth","issue_url":"https://gitlab.com/x/-/issues/1"}"#).status == 201)
        #expect(s.call("POST", "/api/v1/beta/enrollments/\(id)/feedback", #"{"category":"import","rating":9,"text":"x"}"#).status == 422)
        #expect(s.call("POST", "/api/v1/beta/enrollments/\(id)/feedback", #"{"category":"import","rating":3,"text":"x","issue_url":"javascript:alert(1)"}"#).status == 422)
        for path in ["/api/v1/beta/programs", "/api/v1/beta/programs/registry-metadata-db", "/api/v1/beta/programs/registry-metadata-db/enrollments",
                     "/api/v1/beta/enrollments/\(id)", "/api/v1/beta/enrollments/\(id)/history", "/api/v1/beta/programs/registry-metadata-db/feedback"] {
            #expect(s.call("GET", path, token: s.viewer).status == 403, "\(path)")
        }
        let summary = s.call("GET", "/api/v1/beta/programs/registry-metadata-db/summary", token: s.viewer)
        #expect(summary.status == 200)
        #expect(!summary.text.contains("ACME") && !summary.text.contains("ann@") && !summary.text.contains("smooth"))
        #expect((summary.json?["by_status"] as? [String: Int]) == ["interested": 1])
        #expect((summary.json?["feedback_by_week"] as? [[String: Any]])?.first?["mean_rating"] as? Int == 4)
        #expect(s.call("GET", "/api/v1/beta/programs/nope/summary", token: s.viewer).status == 404)
    }
}

enum CatalogFixture {
    static var shipped: String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas/metrics.catalog.json")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }
}
