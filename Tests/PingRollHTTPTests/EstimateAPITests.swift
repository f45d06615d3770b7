import Foundation
import Testing
import PingRollCore
@testable import PingRollHTTP

/// `/api/v1/estimate` and `/api/v1/population` through the responder.
@Suite struct EstimateAPITests {
    static let db = "container_registry_server.db_enabled"

    /// 10 installations in week 1 (6 true), week 2 with 8 of them (the two missing: one true, one false).
    static func seeded(_ h: ResponderHarness) {
        for i in 0..<10 {
            for (week, day) in [(1, "2024-01-09"), (2, "2024-01-16")] where week == 1 || i < 8 {
                let enabled = i < 5 || i == 8
                let body = #"{"uuid":"u\#(i)","hostname":"h\#(i).example.com","recorded_at":"\#(day)T10:00:00Z","version":"16.6.0-ee","edition":"\#(i % 2 == 0 ? "EEP" : "CE")","#
                    + #""installation_type":"omnibus-gitlab","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(enabled)}}"#
                let r = h.postJSON("/usage_data", body)
                #expect(r.status == 201, "\(r.text)")
            }
        }
    }

    @Test func aViewerGetsEstimatesThatCountTheSilentInstallations() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        Self.seeded(h)
        let viewer = try h.store.createToken(name: "v", role: .viewer).text
        let r = h.send("GET", "/api/v1/estimate", query: [("metric", Self.db), ("interval", "week"), ("from", "2024-01-08"), ("to", "2024-01-15")],
                       headers: [("Authorization", "Bearer \(viewer)")])
        #expect(r.status == 200, "\(r.text)")
        let series = try #require(r.json?["series"] as? [[String: Any]])
        let points = try #require(series.first?["points"] as? [[String: Any]])
        #expect(series.first?["group"] as? String == "all" && points.count == 2 && r.json?["method"] as? String == "last_value" && r.json?["lookback"] as? Int == 8)
        let second = points[1]
        #expect(second["reported"] as? Int == 8 && second["expected"] as? Int == 10 && second["reporting"] as? Int == 8 && second["true"] as? Int == 5, "\(second)")
        #expect(second["silent"] as? Int == 2 && second["low_count"] as? Bool == true && second["complete"] as? Bool == true)
        // Eight came back, none changed: the two silent count as they last were (Jeffreys'
        // posterior keeps a little doubt), one true, one false.
        let estimate = try #require(second["estimated_true"] as? Double)
        #expect(estimate > 5.9 && estimate < 6.1, "\(second)")
        #expect((second["estimated_true_low"] as? Double ?? 0) >= 5 && (second["estimated_true_high"] as? Double ?? 9) <= 7)
        #expect(second["population"] is NSNull && second["reason"] is NSNull && second["method"] as? String == "last_value")

        for (query, parameter) in [([("metric", "active_user_count")], "metric"), ([("interval", "day")], "interval"), ([("lookback", "99")], "lookback"),
                                   ([("method", "guess")], "method"), ([("group_by", "planet")], "group_by")] {
            let base = [("metric", Self.db), ("interval", "week"), ("from", "2024-01-08"), ("to", "2024-01-15")]
            let bad = h.send("GET", "/api/v1/estimate", query: base.filter { b in !query.contains { $0.0 == b.0 } } + query,
                             headers: [("Authorization", "Bearer \(viewer)")])
            #expect(bad.status == 400 && bad.text.contains(parameter), "\(query): \(bad.status) \(bad.text)")
        }
        #expect(h.send("GET", "/api/v1/estimate", query: [("metric", Self.db)]).status == 401)
    }

    @Test func anAdminReplacesThePopulationAndThePopulationMethodScalesToIt() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        Self.seeded(h)
        let viewer = try h.store.createToken(name: "v", role: .viewer).text, admin = try h.store.createToken(name: "a", role: .admin).text
        func put(_ csv: String, _ token: String) -> HTTPResponse {
            h.send("PUT", "/api/v1/population", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "text/csv")], body: Array(csv.utf8))
        }
        #expect(put("period_start,dimension,value,installations\n2024-01,all,,20\n", viewer).status == 403)
        let bad = put("period_start,dimension,value,installations\n2024-01,all,,20\n2024-01-01,tier,,5\n", admin)
        #expect(bad.status == 422 && bad.text.contains("row 3") && bad.text.contains("column `value`"), "\(bad.text)")
        let good = put("period_start,dimension,value,installations\n2024-01,all,,20\n2024-01-01,edition,CE,4\n", admin)
        #expect(good.status == 200 && (good.json?["rows"] as? [Any])?.count == 2, "\(good.text)")
        let listed = h.send("GET", "/api/v1/population", headers: [("Authorization", "Bearer \(viewer)")])
        #expect((listed.json?["rows"] as? [[String: Any]])?.first?["dimension"] as? String == "all", "\(listed.text)")

        let r = h.send("GET", "/api/v1/estimate", query: [("metric", Self.db), ("interval", "week"), ("from", "2024-01-15"), ("to", "2024-01-15"),
                                                           ("method", "population")], headers: [("Authorization", "Bearer \(viewer)")])
        let point = try #require(((r.json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])?.first)
        // 5 of 8 true, 8 of 20 reporting: 12.5.
        #expect(point["estimated_true"] as? Double == 12.5 && point["population"] as? Int == 20 && point["percent_reporting"] as? Double == 0.4, "\(point)")
        // By edition: CE has a population (4 rows… of which 4 reported), EEP has none.
        let byEdition = h.send("GET", "/api/v1/estimate", query: [("metric", Self.db), ("interval", "week"), ("from", "2024-01-15"), ("to", "2024-01-15"),
                                                                   ("method", "population"), ("group_by", "edition")], headers: [("Authorization", "Bearer \(viewer)")])
        let groups = Dictionary(uniqueKeysWithValues: try #require(byEdition.json?["series"] as? [[String: Any]]).map {
            ($0["group"] as? String ?? "", ($0["points"] as? [[String: Any]])?.first ?? [:])
        })
        #expect(groups["CE"]?["population"] as? Int == 4 && groups["CE"]?["reason"] is NSNull, "\(groups)")
        #expect(groups["EEP"]?["estimated_true"] is NSNull && (groups["EEP"]?["reason"] as? String)?.contains("no population") == true, "\(groups)")
    }

    @Test func viewersGetSmallCountsSuppressedWhenAFloorIsSet() throws {
        let h = try ResponderHarness(catalog: APITests.catalog, presentation: SeriesPresentation(suppressBelow: 3))
        Self.seeded(h)
        let viewer = try h.store.createToken(name: "v", role: .viewer).text, pm = try h.store.createToken(name: "p", role: .pm).text
        func point(_ token: String) -> [String: Any]? {
            let r = h.send("GET", "/api/v1/estimate", query: [("metric", Self.db), ("interval", "week"), ("from", "2024-01-15"), ("to", "2024-01-15")],
                           headers: [("Authorization", "Bearer \(token)")])
            return ((r.json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])?.first
        }
        let seen = try #require(point(viewer))
        #expect(seen["silent"] is NSNull && seen["estimated_true"] is NSNull && seen["suppressed"] as? Bool == true, "\(seen)")
        let full = try #require(point(pm))
        #expect(full["silent"] as? Int == 2 && full["suppressed"] == nil, "\(full)")
    }
}
