import Foundation
import Testing
import PingRollCore
import PingRollService
import PingRollStore
@testable import PingRollHTTP

/// `/api/v1/subscriptions` and `/api/v1/digest` through the responder.
@Suite struct SubscriptionAPITests {
    @Test func aPMManagesSubscriptionsAndNeverSeesASecretAgain() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let pm = try h.store.createToken(name: "p", role: .pm).text, viewer = try h.store.createToken(name: "v", role: .viewer).text
        func call(_ method: String, _ path: String, _ body: String? = nil, _ token: String) -> HTTPResponse {
            h.send(method, path, headers: [("Authorization", "Bearer \(token)")] + (body == nil ? [] : [("Content-Type", "application/json")]), body: Array((body ?? "").utf8))
        }
        let created = call("POST", "/api/v1/subscriptions", #"{"kind":"digest","channel":"webhook","target":"https://hooks.example.com/x","secret":"s3cret-s3cret-s3cret"}"#, pm)
        #expect(created.status == 201 && created.json?["has_secret"] as? Bool == true && !created.text.contains("s3cret"), "\(created.text)")
        #expect(created.json?["created_by"] as? String == "p" && created.json?["created_role"] as? String == "pm")
        let id = try #require(created.json?["id"] as? Int)
        let listed = call("GET", "/api/v1/subscriptions", nil, pm)
        #expect((listed.json?["subscriptions"] as? [Any])?.count == 1 && !listed.text.contains("s3cret"))
        #expect(call("GET", "/api/v1/subscriptions/\(id)", nil, pm).json?["target"] as? String == "https://hooks.example.com/x")
        #expect(!(try String(contentsOf: h.directory.appendingPathComponent("db.sqlite3"), encoding: .isoLatin1)).contains("s3cret-s3cret"), "sealed in the database")
        #expect((call("GET", "/api/v1/subscriptions/\(id)/deliveries", nil, pm).json?["deliveries"] as? [Any])?.isEmpty == true)
        for (body, field) in [(#"{"kind":"digest","channel":"email","target":"x@y.example\r\nBcc: z@evil.example"}"#, "target"),
                              (#"{"kind":"alert","channel":"email","target":"x@y.example","rule":{"metric":"nope","condition":"count_below","threshold":1}}"#, "rule.metric"),
                              (#"{"kind":"digest","channel":"webhook","target":"https://x.example/"}"#, "secret")] {
            let r = call("POST", "/api/v1/subscriptions", body, pm)
            #expect(r.status == 422 && r.text.contains(field), "\(body): \(r.status) \(r.text)")
        }
        #expect(call("POST", "/api/v1/subscriptions", #"{"kind":"digest","channel":"email","target":"x@y.example"}"#, viewer).status == 403)
        #expect(call("GET", "/api/v1/subscriptions", nil, viewer).status == 403)
        #expect(call("DELETE", "/api/v1/subscriptions/\(id)", nil, pm).status == 200)
        #expect(call("GET", "/api/v1/subscriptions/\(id)", nil, pm).status == 404)
        #expect(call("GET", "/api/v1/subscriptions/\(id)/deliveries", nil, pm).status == 404)
    }

    @Test func theDigestComparesTwoWeeksAndNamesInstallationsOnlyToPMs() throws {
        // The shipped catalog, so that the shipped adoption dashboard (and its share panel) loads.
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8)))
        // Week of 2024-01-08: u0…u9, u0–u4 on; week of 2024-01-15: u5 and u6 switched it on, u0 off.
        for i in 0..<10 {
            for (week, day) in [(1, "2024-01-09"), (2, "2024-01-16")] {
                let on = week == 1 ? i < 5 : (i >= 1 && i < 7)
                let body = #"{"uuid":"u\#(i)","hostname":"h\#(i).example.com","recorded_at":"\#(day)T10:00:00Z","version":"16.6.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(on)}}"#
                #expect(h.postJSON("/usage_data", body).status == 201)
            }
        }
        let viewer = try h.store.createToken(name: "v", role: .viewer).text, pm = try h.store.createToken(name: "p", role: .pm).text
        func digest(_ token: String) -> HTTPResponse {
            h.send("GET", "/api/v1/digest", query: [("period", "week:2024-01-15")], headers: [("Authorization", "Bearer \(token)")])
        }
        let r = digest(viewer)
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json?["period"] as? String == "2024-01-15" && r.json?["previous_period"] as? String == "2024-01-08")
        let headline = try #require((r.json?["headlines"] as? [[String: Any]])?.first { $0["panel"] as? String == "adoption" }, "\(r.text)")
        #expect(headline["share"] as? Double == 0.6 && headline["previous_share"] as? Double == 0.5 && headline["reporting"] as? Int == 10, "\(headline)")
        #expect(abs((headline["change_points"] as? Double ?? 0) - 10) < 1e-9 && headline["significant"] as? Bool == false)
        #expect(headline["adopters"] as? Int == 2 && headline["regressions"] as? Int == 1)
        #expect(headline["adopter_installations"] is NSNull && !r.text.contains("h5.example.com"), "a viewer sees no names")
        let named = try #require((digest(pm).json?["headlines"] as? [[String: Any]])?.first { $0["panel"] as? String == "adoption" })
        #expect((named["adopter_installations"] as? [[String: Any]])?.compactMap { $0["hostname"] as? String } == ["h5.example.com", "h6.example.com"])
        #expect((named["regression_installations"] as? [[String: Any]])?.compactMap { $0["hostname"] as? String } == ["h0.example.com"])
        let completeness = try #require(r.json?["completeness"] as? [String: Any])
        #expect(completeness["reported"] as? Int == 10 && completeness["expected"] as? Int == 10)
        #expect(h.send("GET", "/api/v1/digest", query: [("period", "week:2024-01-16")], headers: [("Authorization", "Bearer \(viewer)")]).status == 400)
        let ingest = try #require(r.json?["ingest"] as? [String: Any])
        #expect(ingest["accepted"] as? Int == 0, "pings count in the week they were received, not recorded")
        #expect((r.json?["beta"] as? [Any])?.isEmpty == true && (r.json?["instrumentation"] as? [Any])?.isEmpty == true)
    }

    @Test func theDigestNamesStuckAndSilentBetaEnrollmentsAndRisingErrorRates() throws {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8)))
        let week = NotifyService.latestCompleteWeek(now: .now()), previous = week - 7
        func day(_ d: Int64) -> String { isoDate(days: d) }
        // An installation that migrated and last pinged 20 days ago; one enrolled 30 days ago.
        let old = Timestamp(milliseconds: Timestamp.now().milliseconds - 20 * 86_400_000)
        #expect(h.postJSON("/usage_data", #"{"uuid":"silent","recorded_at":"\#(old)","version":"16.6.0-ee"}"#).status == 201)
        try h.store.createProgram(BetaProgram(slug: "registry-metadata-db", name: "Registry", description: nil, phases: []))
        var migrated = Enrollment(program: "registry-metadata-db", organization: "Quiet Corp", contactName: "Q", contactEmail: "q@quiet.example")
        migrated.uuid = "silent"
        migrated.status = .migrated
        _ = try h.store.createEnrollment(migrated, by: "test")
        var stuck = Enrollment(program: "registry-metadata-db", organization: "Slow Corp", contactName: "S", contactEmail: "s@slow.example")
        stuck.status = .importing
        stuck.createdAt = Timestamp(milliseconds: Timestamp.now().milliseconds - 30 * 86_400_000)
        stuck.updatedAt = stuck.createdAt
        _ = try h.store.createEnrollment(stuck, by: "test")
        // Installations on 17.3, whose metadata reports come below.
        _ = previous
        for i in 0..<10 {
            #expect(h.postJSON("/usage_data", #"{"uuid":"m\#(i)","recorded_at":"\#(day(week - 14))T10:00:00Z","version":"17.3.1-ee"}"#).status == 201)
        }
        let pm = try h.store.createToken(name: "p", role: .pm).text, viewer = try h.store.createToken(name: "v", role: .viewer).text
        let thisWeek = PeriodKind.week.start(of: .now())
        func digest(_ token: String) -> [String: Any] {
            h.send("GET", "/api/v1/digest", query: [("period", "week:\(day(thisWeek))")], headers: [("Authorization", "Bearer \(token)")]).json ?? [:]
        }
        let beta = try #require((digest(pm)["beta"] as? [[String: Any]])?.first)
        #expect((beta["stuck"] as? [[String: Any]])?.map { $0["organization"] as? String } == ["Slow Corp"], "\(beta)")
        #expect((beta["migrated_but_silent"] as? [[String: Any]])?.map { $0["organization"] as? String } == ["Quiet Corp"], "\(beta)")
        let anonymous = try #require((digest(viewer)["beta"] as? [[String: Any]])?.first)
        #expect((anonymous["stuck"] as? [[String: Any]])?.first?["organization"] is NSNull, "viewers get no organizations")
        // The week before had no reports: no rise is claimed from nothing.
        #expect((digest(viewer)["instrumentation"] as? [Any])?.isEmpty == true)
        // Reports received in the week before (1 of 10 failed) and in this one (8 of 10).
        for (start, failing) in [(thisWeek - 7, 1), (thisWeek, 8)] {
            for i in 0..<10 {
                let failed = i < failing ? #","error":"timeout""# : ""
                var report = ClientReport(kind: .metadata, receivedAt: Timestamp(milliseconds: (start + 1) * 86_400_000 + Int64(i) * 1000),
                                          body: #"{"metadata":{"uuid":"m\#(i)","metrics":[{"name":"counts.slow","time_elapsed":1\#(failed)}]}}"#)
                report.uuid = "m\(i)"
                _ = try h.store.write([.clientReport(report)])
            }
        }
        let rises = try #require(digest(viewer)["instrumentation"] as? [[String: Any]])
        #expect(rises.count == 1 && rises.first?["metric"] as? String == "counts.slow" && rises.first?["version"] as? String == "17.3"
                && rises.first?["error_rate"] as? Double == 0.8 && rises.first?["previous_error_rate"] as? Double == 0.1, "\(rises)")
    }

    @Test func twoProportionTestAgainstAReferenceValue() {
        // 60/100 against 45/100: pooled 0.525, se 0.07062, z 2.124 (significant); 55/100 against 50/100 is not.
        #expect(abs((TwoProportion.z(60, 100, 45, 100) ?? 0) - 2.1240) < 1e-3)
        #expect(TwoProportion.significant(60, 100, 45, 100) && !TwoProportion.significant(55, 100, 50, 100))
        #expect(TwoProportion.z(1, 0, 1, 1) == nil)
    }
}
