import Foundation
import Testing
import PingRollCore
@testable import PingRollHTTP
@testable import PingRollStore

/// The routes added for retention, drill-down, instrumentation and migration runs, fed what an
/// attacker (or a careless script) would send: every answer is a JSON error with the right
/// status, never a trap or a 500.
@Suite struct NewRouteHostileInputTests {
    @Test func migrationRunsRefuseHugeNegativeLongAndNULValues() throws {
        let s = try BetaAPITests().setup()
        let id = try #require(s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", BetaAPITests().enrollment).json?["id"] as? Int)
        let base = "/api/v1/beta/programs/registry-metadata-db/enrollments/\(id)/migrations"
        let start = #""mode":"one_step","started_at":"2025-03-01T08:00:00Z""#
        let cases: [(String, Int)] = [
            (#"{\#(start),"tags":1e300}"#, 422),
            (#"{\#(start),"tags":-9223372036854775808}"#, 422),
            (#"{\#(start),"registry_size_bytes":99999999999999999999999}"#, 422),
            (#"{\#(start),"notes":"\#(String(repeating: "n", count: 10_001))"}"#, 422),
            (#"{\#(start),"notes":"a\u0000b"}"#, 422),
            (#"{\#(start),"phases":[{"name":"import","started_at":"2025-03-01T08:00:00Z","error":"\#(String(repeating: "e", count: 3_000))"}]}"#, 422),
            (#"{\#(start),"phases":\#(String(repeating: "[", count: 40))\#(String(repeating: "]", count: 40))}"#, 400),
            (#"{"mode":"one_step","started_at":"99999-01-01T00:00:00Z"}"#, 422),
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","phases":[\#((0..<11).map { _ in #"{"name":"import"}"# }.joined(separator: ","))]}"#, 422),
        ]
        for (body, status) in cases {
            let r = s.call("POST", base, body)
            #expect(r.status == status && r.errorCode != nil, "\(body.prefix(80)): \(r.status) \(r.text.prefix(200))")
        }
        let flood = #"{"import":[\#((0..<10_001).map { #"{"id":\#($0),"started_at":"2025-01-01T00:00:00Z","pre_import":true,"tag_import":false,"blob_import":false}"# }.joined(separator: ","))]}"#
        let r = s.h.finishedJob(s.call("POST", base + "/from-registry-statistics", flood))
        #expect(r.status == 422 && r.text.contains("10000"), "\(r.status) \(r.text.prefix(200))")
        #expect(s.call("PATCH", "\(base)/99999999999999999999", #"{"notes":"x"}"#).status == 404)
    }

    @Test func analyticsDrillDownAndInstrumentationRefuseOddArguments() throws {
        let s = try BetaAPITests().setup()
        let analytics = "/api/v1/beta/programs/registry-metadata-db/analytics"
        for q in ["stuck_after_days=-1", "stuck_after_days=99999999999999999999", "from=0000-13-01", "from=2030-01-01&to=2020-01-01",
                  "interval=year", "from=2000-01-01&to=2020-01-01"] {
            let r = s.call("GET", analytics + "?" + q, token: s.viewer)
            #expect(r.status == 400 && r.errorCode == "invalid_parameter", "\(q): \(r.status) \(r.text)")
        }
        let drill = "/api/v1/installations?metric=container_registry_server.db_enabled&interval=week"
        for q in ["&value=true&period=99999-01-01", "&value=true&period=2024-01-01&cursor=-1", "&value=\(String(repeating: "v", count: 5_000))&period=2024-01-01",
                  "&value=true&period=2024-01-01&limit=100000"] {
            let r = s.call("GET", drill + q, token: s.viewer)
            #expect(r.status == 400, "\(q.prefix(60)): \(r.status) \(r.text.prefix(160))")
        }
        // A filter value with a NUL is a value no tuple has, as in the series: nothing matches.
        let nul = s.call("GET", drill + "&value=true&period=2024-01-01&filter=edition:%00", token: s.viewer)
        #expect(nul.status == 200 && (nul.json?["installations"] as? [Any])?.isEmpty == true, "\(nul.text)")
        for q in ["version=99999.1", "version=-1.2", "limit=-5", "limit=99999999999999999999", "name=\(String(repeating: "n", count: 600))"] {
            let r = s.call("GET", "/api/v1/instrumentation/metrics?" + q, token: s.viewer)
            #expect(r.status == 400 && r.errorCode == "invalid_parameter", "\(q.prefix(60)): \(r.status) \(r.text.prefix(160))")
        }
    }

    @Test func retentionRefusesHugeNegativeAndNonNumericDays() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let admin = try h.store.createToken(name: "a", role: .admin).text
        for body in [#"{"payload_days":1e300}"#, #"{"payload_days":-1}"#, #"{"report_days":36501}"#, #"{"payload_days":99999999999999999999999}"#,
                     #"{"payload_days":true}"#, #"{"payload_days":"a\u0000"}"#] {
            let r = h.send("POST", "/api/v1/retention", headers: [("Authorization", "Bearer \(admin)"), ("Content-Type", "application/json")], body: Array(body.utf8))
            #expect(r.status == 422 && r.errorCode != nil, "\(body): \(r.status) \(r.text)")
        }
    }
}
