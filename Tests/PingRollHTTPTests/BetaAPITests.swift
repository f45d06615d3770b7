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

    @Test func textWithANulCharacterIsRefusedOnEveryBetaRoute() throws {
        let s = try setup()
        let bad = s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments",
                         #"{"organization":"AC\u0000ME","contact_name":"Ann","contact_email":"ann@acme.example"}"#)
        #expect(bad.status == 422 && bad.text.contains("NUL"), "\(bad.text)")
        #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"p2","name":"P","description":"a\u0000b"}"#).status == 422)
        #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"p3","name":"P","phases":["a\u0000"]}"#).status == 422)
        let id = try #require(s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", enrollment).json?["id"] as? Int)
        #expect(s.call("POST", "/api/v1/beta/enrollments/\(id)/feedback", #"{"category":"bug","rating":3,"text":"x\u0000y"}"#).status == 422)
    }

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

@Suite struct BetaCohortTests {
    func setup() throws -> BetaAPITests.Setup {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        let s = BetaAPITests.Setup(h: h, pm: try h.store.createToken(name: "pm", role: .pm).text, viewer: try h.store.createToken(name: "v", role: .viewer).text)
        for slug in ["registry-metadata-db", "copy"] {
            #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"\#(slug)","name":"P"}"#).status == 201)
        }
        return s
    }

    func enroll(_ s: BetaAPITests.Setup, _ json: String) throws -> Int {
        let r = s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", json)
        #expect(r.status == 201, "\(r.text)")
        return try #require(r.json?["id"] as? Int)
    }

    func exportCSV(_ s: BetaAPITests.Setup, _ query: String = "", program: String = "registry-metadata-db") -> String {
        s.call("GET", "/api/v1/beta/programs/\(program)/cohort?format=csv\(query)").text
    }

    @Test func anExportReimportsUnchangedAndNeverCarriesAFormula() throws {
        let s = try setup()
        _ = try enroll(s, #"{"organization":"=HYPERLINK(\"x\")","contact_name":"O'Brien, Ann","contact_email":"a@x.example","notes":"line one\nline \"two\"","registry_size_bytes":"2TiB","storage_driver":"gcs","geo_enabled":true,"status":"enrolled","phase":"-wave"}"#)
        _ = try enroll(s, #"{"organization":"Plain","contact_name":"Bob","contact_email":"b@x.example","uuid":"u-b","hostname":"reg.b.example"}"#)
        let csv = exportCSV(s)
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0] == EnrollmentCSV.columns.joined(separator: ","))
        #expect(csv.contains(#""'=HYPERLINK(""x"")""#) && csv.contains("'-wave") && !csv.contains(",=HYPERLINK"))
        // Re-import onto itself: nothing changes.
        let before = s.call("GET", "/api/v1/beta/enrollments/1/history").json?["history"] as? [[String: Any]]
        let same = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import",
                            headers: [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")], body: Array(csv.utf8)))
        #expect(same.status == 200 && same.json?["updated"] as? Int == 2, "\(same.text)")
        #expect((s.call("GET", "/api/v1/beta/enrollments/1/history").json?["history"] as? [[String: Any]])?.count == before?.count)
        #expect(exportCSV(s) == csv)
        // Into another program without ids: the same field values.
        let withoutIDs = csv.components(separatedBy: "\r\n").map { line in line.isEmpty ? line : String(line.drop { $0 != "," }.dropFirst()) }.joined(separator: "\r\n")
        let copy = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/copy/enrollments/import",
                            headers: [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")], body: Array(withoutIDs.utf8)))
        #expect(copy.json?["created"] as? Int == 2, "\(copy.text)")
        func fields(_ csv: String) -> [String] {
            csv.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.map { line in
                (try? CSV.parse(line + "\n").first.map { Array($0[2..<(2 + Enrollment.fields.count)]).joined(separator: "|") }) ?? nil ?? ""
            }
        }
        #expect(fields(exportCSV(s, program: "copy")) == fields(csv))
    }

    @Test func anImportWithBadRowsAppliesNothingUnlessPartial() throws {
        let s = try setup()
        let csv = "organization,contact_name,contact_email,storage_driver,status\r\n"
            + "Good,Ann,ann@x.example,s3,\r\n"
            + "Bad,Bob,not-an-email,s3,\r\n"
            + "Worse,Cy,cy@x.example,ftp,migrated\r\n"
        let headers = [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")]
        let refused = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import", headers: headers, body: Array(csv.utf8)))
        #expect(refused.status == 422)
        #expect(((refused.json?["error"] as? [String: Any])?["message"] as? String)?.hasPrefix("2 invalid rows (3 problems)") == true, "\(refused.text)")
        let errors = try #require(refused.json?["errors"] as? [[String: Any]])
        #expect(errors.map { "\($0["row"] as? Int ?? 0):\($0["column"] as? String ?? "")" } == ["3:contact_email", "4:storage_driver", "4:status"], "every problem of a row, not only the first")
        #expect(exportCSV(s).components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 1)
        let partial = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import", query: [("partial", "true")],
                               headers: headers, body: Array(csv.utf8)))
        #expect(partial.status == 200 && partial.json?["created"] as? Int == 1)
        #expect(s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import", headers: headers,
                         body: Array("name,color\r\nx,y\r\n".utf8))).status == 422)
    }

    /// A file of many bad rows gets an answer of bounded size: the first 100 problems, and the
    /// counts of all (it used to list every one: 137 MB for 2,000,000 rows).
    @Test func anImportListsAtMostAHundredProblemsAndCountsThemAll() throws {
        let s = try setup()
        let headers = [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")]
        let csv = "organization,contact_name,contact_email\r\n" + String(repeating: "x\r\n", count: 10_000)
        let answer = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import", query: [("partial", "true")],
                              headers: headers, body: Array(csv.utf8)))
        #expect(answer.status == 200, "\(answer.text.prefix(300))")
        #expect((answer.json?["errors"] as? [Any])?.count == 100)
        #expect(answer.json?["problems"] as? Int == 10_000 && answer.json?["invalid_rows"] as? Int == 10_000)
        #expect(answer.body.count < 20_000, "the answer is \(answer.body.count) bytes")
        let refused = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import", headers: headers,
                               body: Array(("organization,contact_name,contact_email\r\n" + String(repeating: "a,b\r\n", count: 300)).utf8)))
        let message = (refused.json?["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(refused.status == 422 && message.hasPrefix("300 invalid rows (300 problems; the first 100 are listed)"), "\(message)")
    }

    /// The later cell of a column named twice used to win silently.
    @Test func aHeaderNamingAColumnTwiceIsRefused() throws {
        let s = try setup()
        let headers = [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")]
        let r = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/import", headers: headers,
                         body: Array("organization,contact_name,contact_email,organization\r\nA,Ann,ann@x.example,B\r\n".utf8)))
        #expect(r.status == 422 && r.text.contains("column `organization` is given twice"), "\(r.status) \(r.text)")
        #expect(exportCSV(s).components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 1, "nothing was created")
    }

    @Test func cohortsFilterOnRecordsAndLiveFactsAndCanBeSaved() throws {
        let s = try setup()
        _ = try enroll(s, #"{"organization":"A","contact_name":"A","contact_email":"a@x.example","uuid":"live-a","status":"enrolled","registry_size_bytes":"300GB"}"#)
        _ = try enroll(s, #"{"organization":"B","contact_name":"B","contact_email":"b@x.example","uuid":"live-b","status":"enrolled","registry_size_bytes":"50GB"}"#)
        _ = try enroll(s, #"{"organization":"C","contact_name":"C","contact_email":"c@x.example"}"#)
        let ping = { (uuid: String, db: Bool) in
            #"{"uuid":"\#(uuid)","recorded_at":"\#(Timestamp.now())","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(db)}}"#
        }
        #expect(s.h.postJSON("/usage_data", ping("live-a", true)).status == 201)
        #expect(s.h.postJSON("/usage_data", ping("live-b", false)).status == 201)
        func orgs(_ query: String) -> [String] {
            let json = s.call("GET", "/api/v1/beta/programs/registry-metadata-db/cohort?format=json\(query)").json
            return (json?["enrollments"] as? [[String: Any]])?.compactMap { $0["organization"] as? String } ?? []
        }
        #expect(orgs("&status=enrolled&db_enabled=false") == ["B"])
        #expect(orgs("&db_enabled=unknown") == ["C"])
        #expect(orgs("&min_registry_bytes=200GB") == ["A"])
        #expect(orgs("&last_ping_within_days=1") == ["A", "B"])
        #expect(orgs("&status=interested,enrolled") == ["A", "B", "C"])
        #expect(s.call("GET", "/api/v1/beta/programs/registry-metadata-db/cohort?db_enabled=maybe").status == 400)
        #expect(s.h.send("PUT", "/api/v1/beta/programs/registry-metadata-db/cohorts/enrolled-not-on", query: [("status", "enrolled"), ("db_enabled", "false,unknown")],
                         headers: [("Authorization", "Bearer \(s.pm)")], body: []).status == 200)
        let saved = s.call("GET", "/api/v1/beta/programs/registry-metadata-db/cohorts/enrolled-not-on?format=json").json
        #expect((saved?["enrollments"] as? [[String: Any]])?.compactMap { $0["organization"] as? String } == ["B"])
        #expect(s.call("GET", "/api/v1/beta/programs/registry-metadata-db/cohort?format=csv", token: s.viewer).status == 403)
    }

    /// 100,000 enrollments come out in pieces of one page each: memory is bounded by a page, not the export.
    @Test func aHundredThousandEnrollmentExportStreamsInBoundedPieces() throws {
        let s = try setup()
        let now = Timestamp.now()
        for chunk in 0..<20 {
            let batch = (0..<5_000).map { j -> Enrollment in
                let i = chunk * 5_000 + j
                var x = Enrollment(program: "registry-metadata-db", organization: "Org \(i)", contactName: "N", contactEmail: "n\(i)@x.example")
                x.createdAt = now; x.updatedAt = now
                return x
            }
            _ = try s.h.store.createEnrollments(batch, by: "test")
        }
        let r = s.call("GET", "/api/v1/beta/programs/registry-metadata-db/cohort?format=csv")
        let stream = try #require(r.stream)
        var pieces = 0, rows = 0, largest = 0
        while let piece = stream() {
            pieces += 1
            largest = max(largest, piece.count)
            rows += piece.filter { $0 == 10 }.count
        }
        #expect(rows == 100_001 && pieces >= 200)
        #expect(largest < 200_000, "a piece holds one page of rows, not the export")
    }
}

@Suite struct BetaTimelineTests {
    @Test func theTimelineReplaysStatusesAndReadsAdoptionFromPings() throws {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        let viewer = try h.store.createToken(name: "v", role: .viewer).text
        try h.store.createProgram(BetaProgram(slug: "rmdb", name: "R", description: nil, phases: []))
        func at(_ s: String) -> Timestamp { Timestamp.parseISO8601(s)! }
        var x = Enrollment(program: "rmdb", organization: "A", contactName: "A", contactEmail: "a@x.example")
        x.uuid = "t-a"
        x.createdAt = at("2024-03-04T10:00:00Z"); x.updatedAt = x.createdAt
        let id = try h.store.createEnrollment(x, by: "pm")
        // Enrolled in the second week (history written directly, with its time).
        try h.store.writeTransaction("test") { e throws(StorageError) in
            try BetaSQL.history(e, id, by: "pm", at: at("2024-03-12T10:00:00Z"), field: "status", old: "interested", new: "enrolled")
        }
        let ping = #"{"uuid":"t-a","recorded_at":"2024-03-20T00:00:00Z","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":true}}"#
        #expect(h.postJSON("/usage_data", ping).status == 201)
        let r = h.send("GET", "/api/v1/beta/programs/rmdb/timeline", query: [("interval", "week"), ("from", "2024-03-04"), ("to", "2024-03-24")],
                       headers: [("Authorization", "Bearer \(viewer)")])
        #expect(r.status == 200, "\(r.text)")
        let periods = try #require(r.json?["periods"] as? [[String: Any]])
        #expect(periods.map { ($0["by_status"] as? [String: Int])?["interested"] ?? -1 } == [1, 0, 0])
        #expect(periods.map { $0["enrolled"] as? Int ?? -1 } == [0, 1, 1])
        #expect(periods.map { $0["db_enabled"] as? Int ?? -1 } == [0, 0, 1])
        #expect(!r.text.contains("a@x.example"))
    }
}

@Suite struct BetaRoleTests {
    @Test func aViewerCanChangeNothingAndReadOnlyAggregates() throws {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        let viewer = try h.store.createToken(name: "v", role: .viewer).text
        let pm = try h.store.createToken(name: "p", role: .pm).text
        try h.store.createProgram(BetaProgram(slug: "rmdb", name: "R", description: nil, phases: []))
        var x = Enrollment(program: "rmdb", organization: "A", contactName: "A", contactEmail: "a@x.example")
        x.createdAt = .now(); x.updatedAt = x.createdAt
        let id = try h.store.createEnrollment(x, by: "t")
        let writes: [(String, String, String)] = [
            ("POST", "/api/v1/beta/programs", #"{"slug":"x","name":"X"}"#),
            ("POST", "/api/v1/beta/programs/rmdb/enrollments", #"{"organization":"B","contact_name":"B","contact_email":"b@x.example"}"#),
            ("PATCH", "/api/v1/beta/enrollments/\(id)", #"{"notes":"x"}"#),
            ("POST", "/api/v1/beta/enrollments/\(id)/feedback", #"{"category":"docs","rating":3,"text":"t"}"#),
            ("POST", "/api/v1/beta/programs/rmdb/enrollments/import", "organization,contact_name,contact_email\r\nC,C,c@x.example\r\n"),
            ("PUT", "/api/v1/beta/programs/rmdb/cohorts/c", ""),
            ("GET", "/api/v1/beta/programs/rmdb/cohort?format=json", ""),
            ("GET", "/api/v1/beta/programs/rmdb/cohorts/c", ""),
        ]
        for (method, path, body) in writes {
            let r = h.send(method, path, headers: [("Authorization", "Bearer \(viewer)"), ("Content-Type", "application/json")], body: Array(body.utf8))
            #expect(r.status == 403, "\(method) \(path)")
        }
        #expect(try h.store.enrollments(program: "rmdb", after: 0, limit: 10).count == 1)
        #expect(h.send("GET", "/api/v1/beta/programs/rmdb/summary", headers: [("Authorization", "Bearer \(viewer)")]).status == 200)
        #expect(h.send("GET", "/api/v1/beta/programs/rmdb/enrollments", headers: [("Authorization", "Bearer \(pm)")]).status == 200)
    }
}

/// Body limits, roles and query parameters are decided once per route, from the head.
@Suite struct RouteRuleTests {
    func setup() throws -> BetaAPITests.Setup {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        let s = BetaAPITests.Setup(h: h, pm: try h.store.createToken(name: "pm", role: .pm).text, viewer: try h.store.createToken(name: "v", role: .viewer).text)
        #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"p","name":"P"}"#).status == 201)
        return s
    }

    /// Found by schemathesis: wrongly typed members were dropped instead of refused.
    @Test(arguments: [#"{"slug":"x","name":"X","description":-0.5}"#, #"{"slug":"x","name":"X","phases":6.7e167}"#,
                      #"{"slug":"x","name":"\f\f"}"#, #"{"slug":"x","name":"\u00a0\u2003"}"#, #"{"slug":"x","name":"X","colour":"red"}"#,
                      #"{"slug":"x","name":"X","phases":["a",1]}"#, #"{"slug":"x","name":"X","phases":{}}"#])
    func aProgramWithWronglyTypedMembersIsRefused(body: String) throws {
        let s = try setup()
        let r = s.call("POST", "/api/v1/beta/programs", body)
        #expect(r.status == 422 && r.errorCode == "invalid_field", "\(r.text)")
    }

    /// One parse of the body: booleans stay booleans, numbers numbers, lists lists; a repeated key
    /// is decided one way, never half one way and half the other.
    @Test func bodyMembersKeepTheirJSONTypes() throws {
        let s = try setup()
        let created = s.call("POST", "/api/v1/beta/programs", #"{"slug":"t","name":"T","phases":["a","b"]}"#)
        #expect(created.status == 201 && (created.json?["phases"] as? [String]) == ["a", "b"], "\(created.text)")
        let e = s.call("POST", "/api/v1/beta/programs/t/enrollments", #"{"organization":"O","contact_name":"A","contact_email":"a@x.example","geo_enabled":true}"#)
        #expect(e.status == 201 && e.json?["geo_enabled"] as? Bool == true, "\(e.text)")
        let number = s.call("POST", "/api/v1/beta/programs/t/enrollments", #"{"organization":"O","contact_name":"A","contact_email":"a@x.example","geo_enabled":1}"#)
        #expect(number.status == 422, "1 is not true: \(number.text)")
        for body in [#"{"slug":"u","name":"first","name":"second"}"#, #"{"slug":"u","name":"first","n\u0061me":"second"}"#] {
            let twice = s.call("POST", "/api/v1/beta/programs", body)
            #expect(twice.status == 400 && twice.text.contains("`name` appears twice"), "\(twice.text)")
        }
        // A key repeated below the top level is the member's own business.
        #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"v","name":"V","phases":["a","a"]}"#).status == 201)
    }

    @Test func aCSVImportLargerThanSixtyFourKiBIsReadUpToTheImportLimit() throws {
        let s = try setup()
        var csv = "organization,contact_name,contact_email,storage_driver\r\n"
        var i = 0
        while csv.utf8.count < 96_000 {
            csv += "Organisation number \(i) of a long import,Contact \(i),c\(i)@x.example,s3\r\n"
            i += 1
        }
        let r = s.h.finishedJob(s.h.send("POST", "/api/v1/beta/programs/p/enrollments/import",
                         headers: [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")], body: Array(csv.utf8)))
        #expect(r.status == 200 && r.json?["created"] as? Int == i, "\(r.text.prefix(300))")
    }

    @Test func aTooLargeAPIBodyNamesTheRoutesLimitAndIsNotAPingForTheQuarantine() throws {
        let s = try setup()
        // Within the route's 1 MiB (once capped at 64 KiB for every API route): read, then judged.
        let padded = #"{"slug":"q","name":"Q","description":""# + String(repeating: "d", count: 100_000) + #""}"#
        let within = s.call("POST", "/api/v1/beta/programs", padded)
        #expect(within.status != 413, "\(within.text)")
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: (1 << 20) + 1)
        let r = s.h.send("POST", "/api/v1/beta/programs", headers: [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "application/json")], body: big)
        #expect(r.status == 413 && r.text.contains("\(1 << 20) bytes"), "\(r.text)")
        s.h.drain()
        #expect(try s.h.store.statistics().quarantined == 0)
        // The ingest route does keep what it refuses.
        let ping = s.h.send("POST", "/usage_data", headers: [("Content-Type", "application/json")], body: [UInt8](repeating: 0x20, count: (8 << 20) + 1))
        #expect(ping.status == 413)
        s.h.drain()
        #expect(try s.h.store.statistics().quarantined == 1)
    }

    @Test func aCallerWithoutAValidTokenIsAnsweredFromTheHeadBeforeAnyBodyIsRead() throws {
        let s = try setup()
        let head = HTTPRequestHead(method: "POST", path: "/api/v1/beta/programs/p/enrollments/import",
                                   headers: HTTPHeaders([("Content-Length", "\(8 << 20)")]), remoteAddress: "127.0.0.1")
        guard case .respond(let r) = s.h.responder.head(head) else { Issue.record("the body would be read"); return }
        #expect(r.status == 401)
        let viewerHead = HTTPRequestHead(method: "POST", path: "/api/v1/beta/programs", headers: HTTPHeaders([("Authorization", "Bearer \(s.viewer)"), ("Content-Length", "10")]),
                                         remoteAddress: "127.0.0.1")
        guard case .respond(let forbidden) = s.h.responder.head(viewerHead) else { Issue.record("the body would be read"); return }
        #expect(forbidden.status == 403 && forbidden.headers.contains { $0 == ("Content-Type", "application/json; charset=utf-8") })
    }

    @Test(arguments: [
        ("/api/v1/series?metric=active_user_count&interval=week&from=2024-01-01&to=2024-01-31&gruop_by=tier", "gruop_by"),
        ("/api/v1/catalog?verbose=1", "verbose"),
        ("/api/v1/installations?limt=5", "limt"),
        ("/api/v1/breakdown?metric=active_user_count&period=week:2024-01-01&group_by=tier&fromm=x", "fromm"),
        ("/api/v1/ingest?form=2024-01-01", "form"),
    ])
    func anUnknownQueryParameterIsA400NamingIt(path: String, parameter: String) throws {
        let s = try setup()
        let r = s.call("GET", path, token: s.viewer)
        #expect(r.status == 400 && r.errorCode == "invalid_parameter" && r.text.contains("`\(parameter)`"), "\(r.text)")
    }
}
