import Foundation
import Testing
import PingRollService
import PingRollCore
@testable import PingRollHTTP
@testable import PingRollStore

@Suite struct APITests {
    static let catalog = try! MetricCatalog(metrics: [
        MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean),
        MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean, when: [
            MetricCondition(keyPath: "container_registry_enabled", equals: .bool(true)),
            MetricCondition(keyPath: "container_registry_server.vendor", equals: .string("gitlab")),
        ]),
        MetricDefinition(keyPath: "active_user_count", valueType: .number),
        MetricDefinition(keyPath: "container_registry_server.version", valueType: .string),
    ])

    func harness() throws -> (ResponderHarness, viewer: String, admin: String) {
        let h = try ResponderHarness(catalog: Self.catalog)
        return (h, try h.store.createToken(name: "v", role: .viewer).text, try h.store.createToken(name: "a", role: .admin).text)
    }

    func get(_ h: ResponderHarness, _ path: String, _ query: [(String, String)] = [], token: String?) -> HTTPResponse {
        h.send("GET", path, query: query, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [])
    }

    func post(_ h: ResponderHarness, uuid: String, at: String, type: String, db: Bool?, vendor: String = "gitlab", users: Int = 10) {
        let dbText = db.map { #","db_enabled":\#($0)"# } ?? ""
        let json = #"{"uuid":"\#(uuid)","recorded_at":"\#(at)","installation_type":"\#(type)","edition":"EEP","version":"16.5.1","container_registry_enabled":true,"container_registry_server":{"vendor":"\#(vendor)","version":"3.85.0-gitlab"\#(dbText)},"active_user_count":\#(users)}"#
        #expect(h.postJSON("/usage_data", json).status == 201)
    }

    @Test func everyAPIRequestNeedsAValidTokenEvenForUnknownRoutes() throws {
        let (h, viewer, _) = try harness()
        for path in ["/api/v1/catalog", "/api/v1/nope"] {
            let missing = get(h, path, token: nil)
            #expect(missing.status == 401 && missing.errorCode == "unauthorized" && missing.header("WWW-Authenticate") != nil)
            #expect(missing.header("Content-Type") == "application/json; charset=utf-8")
            #expect(get(h, path, token: "prt_aaaaaaaaaaaa_" + String(repeating: "b", count: 40)).status == 401)
            #expect(get(h, path, token: "garbage").status == 401)
        }
        #expect(get(h, "/api/v1/nope", token: viewer).status == 404)
        let wrongSecret = String(viewer.dropLast()) + (viewer.last == "a" ? "b" : "a")
        #expect(get(h, "/api/v1/catalog", token: wrongSecret).status == 401)
        _ = try h.store.revokeToken(name: "v")
        #expect(get(h, "/api/v1/catalog", token: viewer).status == 401)
    }

    @Test func aRoleTooLowGets403() throws {
        let (h, viewer, admin) = try harness()
        let denied = get(h, "/api/v1/quarantine", token: viewer)
        #expect(denied.status == 403 && denied.errorCode == "forbidden")
        _ = h.postJSON("/usage_data", "{bad")
        let allowed = get(h, "/api/v1/quarantine", token: admin)
        #expect(allowed.status == 200 && allowed.header("Content-Type") == "application/json; charset=utf-8")
        #expect(allowed.text.contains("invalid_json"))
    }

    @Test func theCatalogListsMetricsAndDimensions() throws {
        let (h, viewer, _) = try harness()
        let r = get(h, "/api/v1/catalog", token: viewer)
        #expect(r.status == 200)
        let dims = r.json?["dimensions"] as? [String]
        #expect(dims == RollupTuple.dimensions)
        #expect((r.json?["metrics"] as? [[String: Any]])?.count == 4)
    }

    @Test func aWeeklySeriesGroupedByInstallationTypeCountsTheLatestPingPerWeek() throws {
        let (h, viewer, _) = try harness()
        // Week of 2024-01-01: omnibus a (db true, then false later in the week: false counts), helm b (db true).
        post(h, uuid: "a", at: "2024-01-01T10:00:00Z", type: "omnibus-gitlab", db: true, users: 10)
        post(h, uuid: "a", at: "2024-01-03T10:00:00Z", type: "omnibus-gitlab", db: false, users: 30)
        post(h, uuid: "b", at: "2024-01-02T10:00:00Z", type: "gitlab-helm-chart", db: true, users: 100)
        // Week of 2024-01-15: a third-party registry, whose db_enabled means nothing.
        post(h, uuid: "c", at: "2024-01-16T10:00:00Z", type: "omnibus-gitlab", db: false, vendor: "other")
        let r = get(h, "/api/v1/series", [("metric", "container_registry_server.db_enabled"), ("interval", "week"),
                                          ("from", "2024-01-03"), ("to", "2024-01-20"), ("group_by", "installation_type")], token: viewer)
        #expect(r.status == 200, "\(r.text)")
        let series = try #require(r.json?["series"] as? [[String: Any]])
        #expect(series.map { $0["group"] as? String } == ["gitlab-helm-chart", "omnibus-gitlab"])
        let omnibus = try #require(series[1]["points"] as? [[String: Any]])
        #expect(omnibus.map { $0["period"] as? String } == ["2024-01-01", "2024-01-08", "2024-01-15"])
        #expect(omnibus[0]["installations"] as? Int == 1 && omnibus[0]["false"] as? Int == 1 && omnibus[0]["true"] as? Int == 0)
        #expect(omnibus[0]["ratio"] as? Double == 0)
        #expect(omnibus[1]["installations"] as? Int == 0 && omnibus[1]["ratio"] is NSNull)
        #expect(omnibus[2]["unknown"] as? Int == 1 && omnibus[2]["false"] as? Int == 0)

        let all = get(h, "/api/v1/series", [("metric", "container_registry_server.db_enabled"), ("interval", "month"),
                                            ("from", "2024-01-01"), ("to", "2024-01-31"),
                                            ("filter", "installation_type:omnibus-gitlab,installation_type:gitlab-helm-chart"),
                                            ("filter", "registry_vendor:gitlab")], token: viewer)
        let point = try #require(((all.json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])?.first)
        #expect(point["installations"] as? Int == 2 && point["true"] as? Int == 1 && point["false"] as? Int == 1 && point["ratio"] as? Double == 0.5)

        let users = get(h, "/api/v1/series", [("metric", "active_user_count"), ("interval", "month"), ("from", "2024-01-01"), ("to", "2024-01-01")], token: viewer)
        let u = try #require(((users.json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])?.first)
        #expect(u["reporting"] as? Int == 3 && u["sum"] as? Int == 30 + 100 + 10)
        let p50 = try #require(u["p50"] as? Double)
        #expect(p50 > 26 && p50 < 33, "the median of 10, 30 (a's latest), 100 is about 30 (got \(p50))")
        let p99 = try #require(u["p99"] as? Double)
        #expect(p99 > 90 && p99 < 110)
    }

    /// Every boolean point says how sure its share is, and whether it has too few reports.
    @Test func aBooleanPointCarriesItsWilsonIntervalAndLowCount() throws {
        let h = try ResponderHarness(catalog: Self.catalog, presentation: SeriesPresentation(minReliableCount: 3, suppressBelow: 3))
        let viewer = try h.store.createToken(name: "v", role: .viewer).text, pm = try h.store.createToken(name: "p", role: .pm).text
        for (i, db) in [true, true, false].enumerated() { post(h, uuid: "w\(i)", at: "2024-01-02T10:00:00Z", type: "omnibus", db: db) }
        post(h, uuid: "w9", at: "2024-01-09T10:00:00Z", type: "omnibus", db: true)
        let q = [("metric", "container_registry_server.db_enabled"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-01-14")]
        let points = try #require((get(h, "/api/v1/series", q, token: pm).json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])
        let expected = try #require(Wilson.interval(successes: 2, trials: 3))
        #expect(points[0]["ratio"] as? Double == APIJSON.number(2.0 / 3), "\(points[0])")
        #expect(points[0]["ci_low"] as? Double == APIJSON.number(expected.low) && points[0]["ci_high"] as? Double == APIJSON.number(expected.high))
        #expect(points[0]["low_count"] as? Bool == false, "3 reports reach the threshold of 3")
        #expect(points[1]["low_count"] as? Bool == true && points[1]["true"] as? Int == 1, "a pm sees every count: \(points[1])")
        #expect(points[0]["suppressed"] == nil && points[1]["suppressed"] == nil)
        // A viewer sees counts from 1 to 2 as null, and no share made from them.
        let seen = try #require((get(h, "/api/v1/series", q, token: viewer).json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])
        #expect(seen[0]["installations"] as? Int == 3 && seen[0]["true"] is NSNull && seen[0]["false"] is NSNull && seen[0]["ratio"] is NSNull
                && seen[0]["ci_low"] is NSNull && seen[0]["suppressed"] as? Bool == true, "\(seen[0])")
        #expect(seen[1]["true"] is NSNull && seen[1]["false"] as? Int == 0 && seen[1]["suppressed"] as? Bool == true, "\(seen[1])")
        let csv = get(h, "/api/v1/series", q + [("format", "csv")], token: viewer).text.components(separatedBy: "\r\n")
        #expect(csv[1].hasSuffix(",2024-01-01,3,,,0,0,0,,,,false,true,3,0"), "\(csv[1])")
        let breakdown = get(h, "/api/v1/breakdown", [("metric", "container_registry_server.db_enabled"), ("period", "week:2024-01-01"),
                                                    ("group_by", "installation_type")], token: pm).json
        let point = try #require((breakdown?["groups"] as? [[String: Any]])?.first?["point"] as? [String: Any])
        #expect(point["ci_high"] as? Double == APIJSON.number(expected.high) && point["low_count"] as? Bool == false, "\(point)")
    }

    /// A period fills up over its days: each point says whether it is complete, how many
    /// installations reported so far, and how many the period before had.
    @Test func pointsSayWhetherTheirPeriodIsCompleteAndWhatItMayStillExpect() throws {
        let (h, viewer, _) = try harness()
        let now = Timestamp.now()
        let thisWeek = PeriodKind.week.start(of: now), lastWeek = PeriodKind.week.previous(before: thisWeek)
        func at(_ day: Int64) -> String { isoDate(days: day) + "T10:00:00Z" }
        for i in 0..<4 { post(h, uuid: "p\(i)", at: at(PeriodKind.week.previous(before: lastWeek)), type: "omnibus", db: true) }
        for i in 0..<3 { post(h, uuid: "p\(i)", at: at(lastWeek), type: "omnibus", db: true) }
        post(h, uuid: "p0", at: isoDate(days: thisWeek) + "T00:00:01Z", type: "omnibus", db: true)
        let q = [("metric", "container_registry_enabled"), ("interval", "week"), ("from", isoDate(days: lastWeek)), ("to", isoDate(days: thisWeek))]
        let points = try #require((get(h, "/api/v1/series", q, token: viewer).json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])
        #expect(points.count == 2)
        #expect(points[0]["reported"] as? Int == 3 && points[0]["expected"] as? Int == 4, "the week before the range is read for expected: \(points[0])")
        #expect(points[1]["reported"] as? Int == 1 && points[1]["expected"] as? Int == 3 && points[1]["complete"] as? Bool == false, "\(points[1])")
        // Last week is complete only once its end is --complete-after (2 days) behind.
        let end = PeriodKind.week.next(after: lastWeek) * 86_400_000
        let presentation = { (ms: Int64) in SeriesPresentation(now: Timestamp(milliseconds: ms)) }
        #expect(presentation(end + 2 * 86_400_000).isComplete(.week, start: lastWeek), "exactly reached")
        #expect(!presentation(end + 2 * 86_400_000 - 1).isComplete(.week, start: lastWeek))
        #expect(SeriesPresentation.duration("2d") == 172_800_000 && SeriesPresentation.duration("48h") == 172_800_000
                && SeriesPresentation.duration("90m") == 5_400_000 && SeriesPresentation.duration("3600") == 3_600_000)
        #expect(SeriesPresentation.duration("-1d") == nil && SeriesPresentation.duration("2w") == nil && SeriesPresentation.duration("999999999d") == nil
                && SeriesPresentation.duration("") == nil)
    }

    @Test func seriesAsCSVIsASafeSpreadsheet() throws {
        let (h, viewer, _) = try harness()
        post(h, uuid: "x", at: "2024-01-01T10:00:00Z", type: "=HYPERLINK(\\\"evil\\\")", db: true)
        let r = get(h, "/api/v1/series", [("metric", "container_registry_enabled"), ("interval", "month"), ("from", "2024-01-01"),
                                          ("to", "2024-02-01"), ("group_by", "installation_type"), ("format", "csv")], token: viewer)
        #expect(r.status == 200 && r.header("Content-Type") == "text/csv; charset=utf-8")
        let lines = r.text.components(separatedBy: "\r\n")
        #expect(lines[0] == "group,period,installations,true,false,unknown,not_collected,not_eligible,ratio,ci_low,ci_high,low_count,complete,reported,expected")
        #expect(lines[1] == #""'=HYPERLINK(""evil"")",2024-01-01,1,1,0,0,0,0,1,0.206549,1,true,true,1,0"#, "\(lines[1])")
        #expect(lines[2] == #""'=HYPERLINK(""evil"")",2024-02-01,0,0,0,0,0,0,,,,true,true,0,1"#, "\(lines[2])")
    }

    @Test(arguments: [
        ([("interval", "week"), ("from", "2024-01-01"), ("to", "2024-02-01")], "metric"),
        ([("metric", "nope"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-02-01")], "metric"),
        ([("metric", "active_user_count"), ("interval", "year"), ("from", "2024-01-01"), ("to", "2024-02-01")], "interval"),
        ([("metric", "active_user_count"), ("interval", "week"), ("from", "2024-13-01"), ("to", "2024-02-01")], "from"),
        ([("metric", "active_user_count"), ("interval", "week"), ("from", "2024-03-01"), ("to", "2024-02-01")], "to"),
        ([("metric", "active_user_count"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-02-01"), ("group_by", "color")], "group_by"),
        ([("metric", "active_user_count"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-02-01"), ("filter", "tier")], "filter"),
        ([("metric", "active_user_count"), ("interval", "day"), ("from", "2000-01-01"), ("to", "2024-02-01")], "from"),
        ([("metric", "active_user_count"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-02-01"), ("format", "xml")], "format"),
        ([("metric", "active_user_count"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-02-01"), ("include_internal", "yes")],
         "include_internal"),
    ] as [([(String, String)], String)])
    func badParametersGet400NamingTheParameter(query: [(String, String)], parameter: String) throws {
        let (h, viewer, _) = try harness()
        let r = get(h, "/api/v1/series", query, token: viewer)
        #expect(r.status == 400 && r.errorCode == "invalid_parameter")
        #expect(r.text.contains("`\(parameter)`"), "\(r.text)")
    }

    @Test func aBreakdownSplitsOnePeriod() throws {
        let (h, viewer, _) = try harness()
        post(h, uuid: "a", at: "2024-01-01T10:00:00Z", type: "omnibus-gitlab", db: true)
        post(h, uuid: "b", at: "2024-01-20T10:00:00Z", type: "gitlab-helm-chart", db: true)
        let r = get(h, "/api/v1/breakdown", [("metric", "container_registry_server.version"), ("period", "month:2024-01"),
                                             ("group_by", "installation_type")], token: viewer)
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json?["period"] as? String == "2024-01-01")
        let groups = try #require(r.json?["groups"] as? [[String: Any]])
        #expect(groups.count == 2)
        #expect(((groups[0]["point"] as? [String: Any])?["values"] as? [String: Int]) == ["3.85.0-gitlab": 1])
        #expect(get(h, "/api/v1/breakdown", [("metric", "active_user_count"), ("period", "week:2024-99-01"), ("group_by", "tier")], token: viewer).status == 400)
    }

    @Test func internalInstallationsAreLeftOutUnlessAskedFor() throws {
        let (h, viewer, _) = try harness()
        post(h, uuid: "customer", at: "2024-01-01T10:00:00Z", type: "omnibus-gitlab", db: true)
        post(h, uuid: "gdk", at: "2024-01-01T11:00:00Z", type: "gitlab-development-kit", db: false)
        func installations(_ q: [(String, String)]) -> Int? {
            let base = [("metric", "container_registry_server.db_enabled"), ("interval", "week"), ("from", "2024-01-01"), ("to", "2024-01-07")]
            let r = get(h, "/api/v1/series", base + q, token: viewer)
            return (((r.json?["series"] as? [[String: Any]])?.first?["points"] as? [[String: Any]])?.first?["installations"] as? Int)
        }
        #expect(installations([]) == 1)
        #expect(installations([("include_internal", "false")]) == 1)
        #expect(installations([("include_internal", "true")]) == 2)
        #expect(installations([("filter", "internal:true")]) == 1)
        let grouped = get(h, "/api/v1/series", [("metric", "container_registry_server.db_enabled"), ("interval", "week"), ("from", "2024-01-01"),
                                                ("to", "2024-01-07"), ("group_by", "internal"), ("include_internal", "true")], token: viewer)
        #expect(((grouped.json?["series"] as? [[String: Any]])?.compactMap { $0["group"] as? String }).map(Set.init) == ["true", "false"])
        let breakdown = get(h, "/api/v1/breakdown", [("metric", "container_registry_server.db_enabled"), ("period", "week:2024-01-01"),
                                                     ("group_by", "installation_type"), ("include_internal", "true")], token: viewer)
        #expect((breakdown.json?["groups"] as? [[String: Any]])?.count == 2, "\(breakdown.text)")
        let list = get(h, "/api/v1/installations", token: viewer)
        #expect((list.json?["installations"] as? [[String: Any]])?.map { $0["uuid"] as? String } == ["customer"])
        let all = get(h, "/api/v1/installations", [("include_internal", "true")], token: viewer)
        #expect((all.json?["installations"] as? [[String: Any]])?.map { $0["internal"] as? Bool } == [false, true])
        #expect(get(h, "/api/v1/installations", [("include_internal", "1")], token: viewer).status == 400)
    }

    /// A series point opens into the installations it counts, with the same filters.
    @Test func aSeriesCellOpensIntoTheInstallationsItCounts() throws {
        let (h, viewer, _) = try harness()
        post(h, uuid: "a", at: "2024-01-01T10:00:00Z", type: "omnibus-gitlab", db: true)
        post(h, uuid: "b", at: "2024-01-02T10:00:00Z", type: "gitlab-helm-chart", db: true)
        post(h, uuid: "c", at: "2024-01-03T10:00:00Z", type: "omnibus-gitlab", db: false)
        // a's later ping of the same week turns it off: the week counts that one.
        post(h, uuid: "a", at: "2024-01-05T10:00:00Z", type: "omnibus-gitlab", db: false)
        post(h, uuid: "gdk", at: "2024-01-03T11:00:00Z", type: "gitlab-development-kit", db: true)
        let cell = [("metric", "container_registry_server.db_enabled"), ("interval", "week"), ("period", "2024-01-01")]
        func uuids(_ q: [(String, String)]) -> [String]? {
            let r = get(h, "/api/v1/installations", cell + q, token: viewer)
            return (r.json?["installations"] as? [[String: Any]])?.compactMap { ($0["installation"] as? [String: Any])?["uuid"] as? String }
        }
        #expect(uuids([("value", "true")]) == ["b"])
        #expect(uuids([("value", "false")]) == ["a", "c"])
        #expect(uuids([("value", "installations")]) == ["a", "b", "c"])
        #expect(uuids([("value", "true"), ("include_internal", "true")]) == ["b", "gdk"])
        #expect(uuids([("value", "false"), ("filter", "installation_type:omnibus-gitlab")]) == ["a", "c"])
        let paged = get(h, "/api/v1/installations", cell + [("value", "false"), ("limit", "1")], token: viewer)
        let cursor = try #require(paged.json?["next_cursor"] as? String)
        let rest = get(h, "/api/v1/installations", cell + [("value", "false"), ("limit", "1"), ("cursor", cursor)], token: viewer)
        #expect((rest.json?["installations"] as? [[String: Any]])?.count == 1 && rest.json?["next_cursor"] is NSNull, "\(rest.text)")
        let first = try #require((paged.json?["installations"] as? [[String: Any]])?.first)
        #expect(first["recorded_at"] as? String == "2024-01-05T10:00:00.000Z" && first["ping_id"] as? Int == 4, "a's latest ping of the week: \(first)")

        for (q, message) in [([("value", "maybe")], "`value`"), ([("value", "true"), ("period", "2024-01-03")], "starts 2024-01-01"),
                             ([("value", "true"), ("interval", "year")], "`interval`"), ([("metric", "nope"), ("value", "true")], "not in the catalog"),
                             ([("period", "2024-13-01"), ("value", "true")], "`period`")] as [([(String, String)], String)] {
            var query = cell.filter { c in !q.contains { $0.0 == c.0 } }
            query += q
            let r = get(h, "/api/v1/installations", query, token: viewer)
            #expect(r.status == 400 && r.text.contains(message), "\(q): \(r.status) \(r.text)")
        }
        let missing = get(h, "/api/v1/installations", [("metric", "container_registry_server.db_enabled"), ("value", "true")], token: viewer)
        #expect(missing.status == 400 && missing.text.contains("`interval`: is required"), "\(missing.text)")
    }

    /// An installation's page: facts per ping, its reports, its enrollment without contacts.
    @Test func anInstallationsHistoryShowsItsPingsReportsAndEnrollment() throws {
        let (h, viewer, _) = try harness()
        post(h, uuid: "a", at: "2024-01-01T10:00:00Z", type: "omnibus-gitlab", db: false)
        post(h, uuid: "a", at: "2024-02-01T10:00:00Z", type: "omnibus-gitlab", db: true)
        #expect(h.postJSON("/usage_ping_metadata", #"{"metadata":{"uuid":"a","metrics":[{"name":"counts.x","time_elapsed":1},{"name":"counts.y","time_elapsed":2,"error":"boom"}]}}"#).status == 201)
        #expect(h.postJSON("/usage_ping_errors", #"{"error":{"uuid":"a","hostname":"h","version":"16.5.1","message":"Net::ReadTimeout at /x.rb:3:in 'y'","elapsed":1}}"#).status == 201)
        try h.store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        var x = Enrollment(program: "p", organization: "Org", contactName: "Ada", contactEmail: "ada@example.com")
        x.uuid = "a"
        _ = try h.store.createEnrollment(x, by: "t")
        h.drain()
        let r = get(h, "/api/v1/installations/a/history", token: viewer)
        #expect(r.status == 200, "\(r.text)")
        let pings = (r.json?["pings"] as? [[String: Any]]) ?? []
        #expect(pings.compactMap { $0["db_enabled"] as? Bool } == [true, false] && pings.first?["recorded_at"] as? String == "2024-02-01T10:00:00.000Z")
        #expect(((r.json?["metadata_reports"] as? [[String: Any]])?.first?["failed"] as? [String]) == ["counts.y"])
        #expect(((r.json?["error_reports"] as? [[String: Any]])?.first?["message"] as? String) == "Net::ReadTimeout")
        #expect(((r.json?["enrollments"] as? [[String: Any]])?.first?["status"] as? String) == "interested")
        #expect(!r.text.contains("ada@example.com") && !r.text.contains("Ada"), "no contacts for a viewer")
        #expect(get(h, "/api/v1/installations/nobody/history", token: viewer).status == 404)
        #expect(get(h, "/api/v1/installations/a/history", [("limit", "0")], token: viewer).status == 400)
    }

    /// The raw route gives back the bytes as posted, spacing, key order and number spelling
    /// included, though the store keeps them split into skeleton and values; admin only.
    @Test func aStoredPingComesBackByteForByteFromTheRawRoute() throws {
        let (h, viewer, admin) = try harness()
        let uuid = "11111111-2222-3333-4444-555555555555"
        let body = "{ \"uuid\" : \"\(uuid)\",\n  \"recorded_at\":\"2024-01-15T10:00:00Z\", \"n\": 1.50E+3, \"s\": \"\\u00e9\\\"\" ,\"a\":[ true ,null ] }"
        let posted = h.postJSON("/usage_data", body)
        let id = try #require(posted.usageDataID)
        let raw = get(h, "/api/v1/installations/\(uuid)/pings/\(id)/raw", token: admin)
        #expect(raw.status == 200 && raw.text == body)
        #expect(get(h, "/api/v1/installations/\(uuid)/pings/\(id)/raw", token: viewer).status == 403)
        #expect(get(h, "/api/v1/installations/other/pings/\(id)/raw", token: admin).status == 404)
        #expect(get(h, "/api/v1/installations/\(uuid)/pings/999/raw", token: admin).status == 404)
        #expect(get(h, "/api/v1/installations/\(uuid)/pings/x/raw", token: admin).status == 404)
        // Hostile ids and uuids: not found, never a trap.
        for path in ["/api/v1/installations/\(uuid)/pings/-1/raw", "/api/v1/installations/\(uuid)/pings/99999999999999999999/raw",
                     "/api/v1/installations/\(uuid)/pings/\(Int64.max)/raw", "/api/v1/installations/a\u{0}b/pings/\(id)/raw",
                     "/api/v1/installations/\(String(repeating: "u", count: 10_000))/pings/\(id)/raw"] {
            #expect(get(h, path, token: admin).status == 404, "\(path.prefix(80))")
        }
    }
}

@Suite struct InstallationAndIngestAPITests {
    func setup() throws -> (ResponderHarness, String) {
        let h = try ResponderHarness(catalog: APITests.catalog)
        return (h, try h.store.createToken(name: "v", role: .viewer).text)
    }

    func get(_ h: ResponderHarness, _ path: String, _ query: [(String, String)] = [], _ token: String) -> HTTPResponse {
        h.send("GET", path, query: query, headers: [("Authorization", "Bearer \(token)")])
    }

    /// Unknown facts are null, not left out; every documented member is there.
    @Test func anInstallationShowsEveryFactWithNullForUnknown() throws {
        let (h, viewer) = try setup()
        #expect(h.postJSON("/usage_data", #"{"uuid":"bare","recorded_at":"2024-01-15T10:00:00Z"}"#).status == 201)
        let r = get(h, "/api/v1/installations", [], viewer)
        let text = r.text
        for member in ["\"version\":null", "\"registry_vendor\":null", "\"db_enabled\":null", "\"collected_data_categories\":null",
                       "\"internal\":false", "\"optional_metrics\":\"unknown\"", "\"next_cursor\":null", "\"last_ping_at\":\"2024-01-15T10:00:00.000Z\""] {
            #expect(text.contains(member), "\(member) in \(text)")
        }
    }

    @Test func installationsArePagedWithACursorAndFiltered() throws {
        let (h, token) = try setup()
        for i in 0..<5 {
            let type = i % 2 == 0 ? "omnibus-gitlab" : "gitlab-helm-chart"
            let json = #"{"uuid":"u\#(i)","recorded_at":"2024-01-0\#(i + 1)T00:00:00Z","installation_type":"\#(type)","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(i == 0)}}"#
            #expect(h.postJSON("/usage_data", json).status == 201)
        }
        let first = get(h, "/api/v1/installations", [("limit", "2")], token)
        let page1 = try #require(first.json?["installations"] as? [[String: Any]])
        #expect(page1.map { $0["uuid"] as? String } == ["u0", "u1"])
        #expect(page1[0]["db_enabled"] as? Bool == true && page1[1]["db_enabled"] as? Bool == false)
        let cursor = try #require(first.json?["next_cursor"] as? String)
        let second = get(h, "/api/v1/installations", [("limit", "10"), ("cursor", cursor)], token)
        #expect((second.json?["installations"] as? [[String: Any]])?.count == 3 && second.json?["next_cursor"] is NSNull)
        let helm = get(h, "/api/v1/installations", [("filter", "installation_type:gitlab-helm-chart")], token)
        #expect((helm.json?["installations"] as? [[String: Any]])?.map { $0["uuid"] as? String } == ["u1", "u3"])
        let one = get(h, "/api/v1/installations/u3", [], token)
        #expect(one.status == 200 && (one.json?["installations"] as? [[String: Any]])?.first?["last_ping_at"] as? String == "2024-01-04T00:00:00.000Z")
        #expect(get(h, "/api/v1/installations/nope", [], token).status == 404)
        #expect(get(h, "/api/v1/installations", [("limit", "0")], token).status == 400)
    }

    @Test func ingestHealthCountsAcceptedDuplicatesAndRejectionsPerDay() throws {
        let (h, token) = try setup()
        let ping = #"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z"}"#
        _ = h.postJSON("/usage_data", ping)
        _ = h.postJSON("/usage_data", ping)
        _ = h.postJSON("/usage_data", "{nope")
        _ = h.postJSON("/usage_data", #"{"uuid":"u"}"#)
        let r = get(h, "/api/v1/ingest", [], token)
        #expect(r.status == 200)
        let today = try #require((r.json?["days"] as? [[String: Any]])?.last)
        #expect(today["accepted"] as? Int == 1 && today["duplicates"] as? Int == 1 && today["rejected"] as? Int == 2)
        #expect((today["rejected_by_reason"] as? [String: Int]) == ["invalid_json": 1, "invalid_field": 1])
        #expect((r.json?["quarantine"] as? [String: Any])?["entries"] as? Int == 2)
        #expect(r.json?["last_ping_received_at"] is String)
        #expect((r.json?["days"] as? [[String: Any]])?.count == 30)
        #expect(today["recorded"] as? Int == 0, "the ping received today describes 2024-01-01")
        let january = get(h, "/api/v1/ingest", [("from", "2023-12-31"), ("to", "2024-01-02")], token)
        let byDay = Dictionary(uniqueKeysWithValues: ((january.json?["days"] as? [[String: Any]]) ?? []).map { ($0["day"] as? String ?? "", $0) })
        #expect(byDay["2024-01-01"]?["recorded"] as? Int == 1 && byDay["2024-01-01"]?["accepted"] as? Int == 0
                && byDay["2023-12-31"]?["recorded"] as? Int == 0 && byDay["2024-01-02"]?["recorded"] as? Int == 0, "\(january.text)")
        // Before 1970 too: days are counted from the window's start, never by truncating division.
        _ = h.postJSON("/usage_data", #"{"uuid":"old","recorded_at":"1969-12-31T23:00:00Z"}"#)
        let early = get(h, "/api/v1/ingest", [("from", "1969-12-30"), ("to", "1970-01-01")], token)
        #expect(((early.json?["days"] as? [[String: Any]]) ?? []).map { $0["recorded"] as? Int ?? -1 } == [0, 1, 0], "\(early.text)")
    }
}

@Suite struct QuarantineRetryTests {
    @Test func anAdminReprocessesAFixableQuarantinedPing() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let admin = try h.store.createToken(name: "a", role: .admin).text
        let pm = try h.store.createToken(name: "p", role: .pm).text
        // Sent as text/plain by a misconfigured proxy: refused with 415, kept whole.
        let body = #"{"uuid":"fixme","recorded_at":"2024-01-01T00:00:00Z"}"#
        #expect(h.postJSON("/usage_data", body, headers: [("Content-Type", "text/plain")]).status == 415)
        let id = try #require(try h.store.quarantine(limit: 1).first?.id)
        let auth = { (t: String) in [("Authorization", "Bearer \(t)")] }
        #expect(h.send("POST", "/api/v1/quarantine/\(id)/retry", headers: auth(pm)).status == 403)
        let r = h.send("POST", "/api/v1/quarantine/\(id)/retry", headers: auth(admin))
        #expect(r.status == 200, "\(r.text)")
        let pingID = try #require((r.json?["usage_data_id"] as? NSNumber)?.int64Value)
        #expect(try h.store.ping(id: pingID)?.installation.uuid == "fixme")
        #expect(h.send("POST", "/api/v1/quarantine/\(id)/retry", headers: auth(admin)).json?["usage_data_id"] as? Int == Int(pingID))
        #expect(h.send("POST", "/api/v1/quarantine/99999/retry", headers: auth(admin)).status == 404)
        // Still broken: the retry answers the error (and quarantines the body again).
        _ = h.postJSON("/usage_data", "{broken")
        let broken = try #require(try h.store.quarantine(limit: 1).first?.id)
        #expect(h.send("POST", "/api/v1/quarantine/\(broken)/retry", headers: auth(admin)).status == 400)
    }
}