import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// The dashboard UI in a real headless Chromium against a real `pingroll serve` with seeded pings.
let chromiumPath = "/usr/bin/chromium"

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: chromiumPath), "needs chromium (scripts/test.sh installs it)"))
struct DashboardBrowserTests {
    static let chromium = chromiumPath

    /// The page's DOM after its scripts ran (Chromium's virtual time lets every fetch finish).
    func renderedDOM(_ url: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.chromium)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=15000",
                       "--user-data-dir=" + FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)").path,
                       "--dump-dom", url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The JSON a panel exposes, parsed.
    func panelData(_ dom: String, _ id: String) throws -> [String: Any] {
        let marker = "data-panel=\"\(id)\""
        let start = try #require(dom.range(of: marker), "panel \(id) rendered")
        let rest = dom[start.upperBound...]
        let open = try #require(rest.range(of: "class=\"panel-data\">"))
        let close = try #require(rest[open.upperBound...].range(of: "</script>"))
        let json = String(rest[open.upperBound..<close.lowerBound])
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func theAdoptionDashboardShowsTheSeededNumbers() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let http = server.client()
        func ping(_ uuid: String, _ day: String, type: String, vendor: String, db: Bool, version: String) throws {
            // a uses Geo on Amazon RDS; the others run PostgreSQL without Geo.
            let geo = uuid == "a", flavor = uuid == "a" ? "Amazon RDS" : "PostgreSQL"
            let body = #"{"uuid":"\#(uuid)","recorded_at":"\#(day)T12:00:00Z","installation_type":"\#(type)","edition":"EEU","version":"\#(version)","container_registry_enabled":true,"container_registry_server":{"vendor":"\#(vendor)","version":"3.90.0-gitlab","db_enabled":\#(db)},"geo_enabled":\#(geo),"database":{"adapter":"postgresql","version":"14.9","flavor":"\#(flavor)"}}"#
            #expect(try http.postJSON("/usage_data", body).status == 201)
        }
        // Week of 2024-03-04: a on, b off, c third-party (unknown), d on. Week of 2024-03-11: a and b on.
        try ping("a", "2024-03-05", type: "omnibus-gitlab", vendor: "gitlab", db: true, version: "16.9.1-ee")
        try ping("b", "2024-03-06", type: "gitlab-helm-chart", vendor: "gitlab", db: false, version: "16.8.0-ee")
        try ping("c", "2024-03-07", type: "omnibus-gitlab", vendor: "other", db: false, version: "16.9.0-ee")
        // d has optional metrics off: db_enabled without the (optional) vendor counts as on. A
        // development kit with the database off is internal and left out.
        #expect(try http.postJSON("/usage_data", #"{"uuid":"d","recorded_at":"2024-03-06T12:00:00Z","version":"16.9.1-ee","container_registry_enabled":true,"container_registry_server":{"db_enabled":true},"settings":{"collected_data_categories":["standard","subscription","operational"]}}"#).status == 201)
        #expect(try http.postJSON("/usage_data", #"{"uuid":"gdk","hostname":"gdk.test","recorded_at":"2024-03-06T12:00:00Z","installation_type":"gitlab-development-kit","edition":"EEU","version":"16.9.1-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":false}}"#).status == 201)
        try ping("a", "2024-03-12", type: "omnibus-gitlab", vendor: "gitlab", db: true, version: "16.10.0-ee")
        try ping("b", "2024-03-13", type: "gitlab-helm-chart", vendor: "gitlab", db: true, version: "16.10.0-ee")
        // A beta program with one enrollment of installation a, enrolled from the start.
        let store = try SQLiteStore(path: server.databasePath)
        try store.createProgram(BetaProgram(slug: "registry-metadata-db", name: "Registry metadata database", description: nil, phases: []))
        var enrollment = Enrollment(program: "registry-metadata-db", organization: "A", contactName: "A", contactEmail: "a@x.example")
        enrollment.uuid = "a"
        enrollment.status = .enrolled
        enrollment.createdAt = Timestamp.parseISO8601("2024-03-01T00:00:00Z")!
        enrollment.updatedAt = enrollment.createdAt
        _ = try store.createEnrollment(enrollment, by: "test")
        store.close()
        let (status, output) = try server.runCommand(["token", "create", "--role", "viewer", "--name", "browser"])
        #expect(status == 0)
        let token = try #require(output.split(separator: "\n").last)

        let dom = try renderedDOM("http://127.0.0.1:\(server.port)/?dashboard=registry-metadata-db&from=2024-03-04&to=2024-03-17&interval=week#token=\(token)")
        #expect(dom.contains("data-rendered=\"registry-metadata-db\""), "the page rendered the dashboard")
        #expect(!dom.contains("data-state=\"error\"") && !dom.contains("data-state=\"loading\""))
        #expect(dom.components(separatedBy: "<canvas").count - 1 == 12, "twelve chart panels drew a canvas")

        let adoption = try panelData(dom, "adoption")
        #expect(adoption["labels"] as? [String] == ["2024-03-04", "2024-03-11"])
        let overall = try #require((adoption["datasets"] as? [[String: Any]])?.first)
        let ratios = try #require(overall["data"] as? [Double])
        #expect(ratios.count == 2 && abs(ratios[0] - 200.0 / 3) < 1e-2 && ratios[1] == 100, "a and d of a, b, d; then a and b, in percent: \(ratios)")
        // Three and two reports: too few to read a share (hollow points), each with its 95 % band.
        #expect(overall["lowCount"] as? [Bool] == [true, true], "\(overall)")
        #expect(overall["complete"] as? [Bool] == [true, true] && overall["expected"] as? [Int] == [0, 4], "two old weeks are complete; the second expects the first week's four: \(overall["expected"] ?? "-")")
        let low = try #require(overall["ciLow"] as? [Double]), high = try #require(overall["ciHigh"] as? [Double])
        let expected = try #require(Wilson.interval(successes: 2, trials: 3))
        #expect(abs(low[0] - expected.low * 100) < 1e-2 && abs(high[0] - expected.high * 100) < 1e-2 && low[1] < 100 && high[1] == 100, "\(low) \(high)")
        let adoptionTag = try #require(dom.range(of: #"<section[^>]*data-panel="adoption"[^>]*>"#, options: .regularExpression).map { String(dom[$0]) })
        #expect(adoptionTag.contains("data-bands=\"1\"") && adoptionTag.contains("data-hollow=\"2\""), "\(adoptionTag)")
        // The releases first seen in the range are marked on the charts, at their week.
        let notes = try #require(adoption["annotations"] as? [[String: Any]])
        #expect(notes.map { "\($0["period"] ?? "") \($0["text"] ?? "")" }.sorted()
                == ["2024-03-04 first ping from 16.8", "2024-03-04 first ping from 16.9", "2024-03-11 first ping from 16.10"], "\(notes)")
        #expect(adoptionTag.contains("data-annotations=\"3\""), "\(adoptionTag)")

        // The estimate: in the second week d (last true) and c (last unknown) are silent. d counts
        // with the chance a true stays true measured on a's return (one pair: Jeffreys' 0.75), c at
        // the group's share (2 of 2): 2 + 0.75 + 1, the band clipped to what the silent can add.
        let estimate = try panelData(dom, "adoption-estimate")
        let estimated = try #require((estimate["datasets"] as? [[String: Any]])?.first)
        #expect(estimated["data"] as? [Double] == [2, 3.8] && estimated["ciLow"] as? [Double] == [2, 2.8] && estimated["ciHigh"] as? [Double] == [2, 4],
                "\(estimated)")
        #expect(estimated["silent"] as? [Int] == [0, 2] && (estimate["datasets"] as? [[String: Any]])?.last?["data"] as? [Int] == [2, 2])
        let estimateTag = try #require(dom.range(of: #"<section[^>]*data-panel="adoption-estimate"[^>]*>"#, options: .regularExpression).map { String(dom[$0]) })
        #expect(estimateTag.contains("data-bands=\"1\"") && estimateTag.contains("data-annotations=\"3\""), "\(estimateTag)")
        #expect(dom.contains("Method last_value, lookback 8 weeks"), "the panel names its method and lookback")

        // c's third-party registry leaves db_enabled unknown on 16.9: it could have been sent, so it is not not_eligible.
        #expect((try panelData(dom, "db-unknown")["datasets"] as? [[String: Any]])?.first?["data"] as? [Int] == [1, 0])
        #expect((try panelData(dom, "db-not-eligible")["datasets"] as? [[String: Any]])?.first?["data"] as? [Int] == [0, 0])
        let byOptional = try #require(try panelData(dom, "adoption-by-optional-metrics")["datasets"] as? [[String: Any]])
        #expect(Set(byOptional.compactMap { $0["label"] as? String }) == ["not_collected", "unknown"])
        #expect((byOptional.first { $0["label"] as? String == "not_collected" }?["data"] as? [Any])?.first as? Double == 100)
        let notCollected = try #require((try panelData(dom, "vendor-not-collected")["datasets"] as? [[String: Any]])?.first)
        #expect(notCollected["data"] as? [Int] == [1, 0], "d cannot report its vendor")

        let byType = try #require(try panelData(dom, "adoption-by-installation-type")["datasets"] as? [[String: Any]])
        let helm = try #require(byType.first { $0["label"] as? String == "gitlab-helm-chart" })
        #expect(helm["data"] as? [Double] == [0, 100])

        #expect(dom.contains("data-panel=\"adoption-count\" data-state=\"ready\" data-period=\"2024-03-11\" data-value=\"2\""))
        #expect(dom.contains("week of 2024-03-11 (latest complete week)"), "the number panel names its complete period")

        let beta = try #require(try panelData(dom, "beta-adoption")["datasets"] as? [[String: Any]])
        #expect(beta.map { $0["data"] as? [Int] ?? [] } == [[1, 1], [1, 1]], "a is enrolled and reported the database on in both weeks")
        let statuses = try #require(try panelData(dom, "beta-status")["datasets"] as? [[String: Any]])
        #expect(statuses.first { $0["label"] as? String == "enrolled" }?["data"] as? [Int] == [1, 1])

        let vendors = try #require(try panelData(dom, "vendors")["datasets"] as? [[String: Any]])
        #expect(Set(vendors.compactMap { $0["label"] as? String }) == ["gitlab", "other"])
        #expect(vendors.first { $0["label"] as? String == "other" }?["data"] as? [Int] == [1, 0])

        let geo = try #require(try panelData(dom, "geo")["datasets"] as? [[String: Any]])
        #expect(geo.first?["data"] as? [Int] == [1, 1], "one registry-enabled installation uses Geo in each week")
        #expect(dom.contains("data-panel=\"database-flavours\" data-state=\"ready\""))
        let flavours = try panelData(dom, "database-flavours")
        #expect("\(flavours)".contains("Amazon RDS") && "\(flavours)".contains("PostgreSQL"), "\(flavours)")
    }

    /// The overview dashboard's table of scheduled pulls, as a viewer sees it.
    @Test func theOverviewShowsHowEachScheduledPullGoes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-pulls-ui-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gitlab = try PullCommandTests.FakeGitLab(directory: dir)
        defer { gitlab.stop() }
        let good = dir.appendingPathComponent("good").path, bad = dir.appendingPathComponent("bad").path
        try "glpat-secret".write(toFile: good, atomically: true, encoding: .utf8)
        try "glpat-wrong".write(toFile: bad, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("pulls.yaml").path
        try """
            interval: 1h
            instances:
              - {name: alpha, url: "http://127.0.0.1:\(gitlab.port)", token-file: "\(good)"}
              - {name: beta, url: "http://127.0.0.1:\(gitlab.port)", token-file: "\(bad)"}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try ServerProcess(arguments: ["--pull-config", config])
        defer { server.cleanUp() }
        let (status, output) = try server.runCommand(["token", "create", "--role", "viewer", "--name", "pulls-viewer"])
        #expect(status == 0)
        let token = try #require(output.split(separator: "\n").last)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let pulls = (try server.client().request("GET", "/api/v1/pulls", headers: [("Authorization", "Bearer \(token)")]).json?["pulls"] as? [[String: Any]]) ?? []
            if pulls.count == 2 && pulls.allSatisfy({ $0["last_attempt_at"] is String }) { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let dom = try renderedDOM("http://127.0.0.1:\(server.port)/?dashboard=service-ping-overview#token=\(token)")
        #expect(dom.contains("data-panel=\"pulls\" data-state=\"ready\""), "\(dom.prefix(2000))")
        let rows = try #require(try panelData(dom, "pulls")["datasets"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: rows.compactMap { r in (r["label"] as? String).map { ($0, r["data"] as? [Any] ?? []) } })
        #expect(byName["alpha"]?[2] as? String == "ok" && byName["alpha"]?[3] as? Int == 1, "\(rows)")
        #expect(byName["beta"]?[2] as? String == "failing" && byName["beta"]?[4] as? Int == 1, "a viewer sees that it fails, not the reason: \(rows)")
        #expect(!dom.contains("127.0.0.1:\(gitlab.port)"), "no instance URL reaches a viewer")
    }

    /// The instrumentation dashboard draws what the instrumentation routes answer.
    @Test func theInstrumentationDashboardShowsWhatTheAPIReturns() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let http = server.client()
        for u in 0..<6 {
            let metrics = (0..<20).map { m in
                let failed = (m + u) % 7 == 0 ? #","error":"timeout""# : ""
                return #"{"name":"counts.metric_\#(m)","time_elapsed":\#(Double((m * 37 + u * 11) % 500) / 10)\#(failed)}"#
            }
            #expect(try http.postJSON("/usage_ping_metadata", #"{"metadata":{"uuid":"u\#(u)","metrics":[\#(metrics.joined(separator: ","))]}}"#).status == 201)
        }
        for (i, version) in ["16.9.2-ee", "16.10.0", "16.10.1-ee", "16.9.0", "17.0.0"].enumerated() {
            let body = #"{"error":{"uuid":"u\#(i)","hostname":"h","version":"\#(version)","message":"Net::ReadTimeout at /opt/gitlab/x.rb:\#(i):in 'y'","elapsed":1}}"#
            #expect(try http.postJSON("/usage_ping_errors", body).status == 201)
        }
        let (status, output) = try server.runCommand(["token", "create", "--role", "viewer", "--name", "instrumentation"])
        #expect(status == 0)
        let token = try #require(output.split(separator: "\n").last.map(String.init))
        let api = try #require(try http.request("GET", "/api/v1/instrumentation/metrics?limit=10000", headers: [("Authorization", "Bearer \(token)")]).json)
        let metrics = try #require(api["metrics"] as? [[String: Any]])
        let slowest = metrics.sorted { ($0["time_elapsed_p95"] as? Double ?? -1, $1["name"] as? String ?? "") > ($1["time_elapsed_p95"] as? Double ?? -1, $0["name"] as? String ?? "") }
            .prefix(15).compactMap { $0["name"] as? String }
        let failing = metrics.filter { ($0["errors"] as? Int ?? 0) > 0 }.prefix(15).compactMap { $0["name"] as? String }

        let dom = try renderedDOM("http://127.0.0.1:\(server.port)/?dashboard=instrumentation-health#token=\(token)")
        #expect(dom.contains("data-rendered=\"instrumentation-health\""))
        #expect(!dom.contains("data-state=\"error\"") && !dom.contains("data-state=\"loading\""))
        let slowRows = try #require(try panelData(dom, "slowest-metrics")["datasets"] as? [[String: Any]])
        #expect(slowRows.compactMap { $0["label"] as? String } == Array(slowest), "\(slowRows.compactMap { $0["label"] })")
        let first = try #require(metrics.first { $0["name"] as? String == slowest.first })
        #expect((slowRows.first?["data"] as? [Any])?[2] as? Double == first["time_elapsed_p95"] as? Double)
        let failRows = try #require(try panelData(dom, "failing-metrics")["datasets"] as? [[String: Any]])
        #expect(failRows.compactMap { $0["label"] as? String } == failing && !failing.isEmpty)
        let versions = try panelData(dom, "failures-by-version")
        #expect(versions["labels"] as? [String] == ["16.9", "16.10", "17.0"], "versions sort as versions: \(versions)")
        #expect(((versions["datasets"] as? [[String: Any]])?.first?["data"] as? [Int]) == [2, 2, 1])
        let perDay = try #require((try panelData(dom, "failures-per-day")["datasets"] as? [[String: Any]])?.first?["data"] as? [Int])
        #expect(perDay.reduce(0, +) == 5)
        let messages = try #require(try panelData(dom, "failure-messages")["datasets"] as? [[String: Any]])
        #expect(messages.compactMap { $0["label"] as? String } == ["Net::ReadTimeout"])
    }

    /// The Beta migrations dashboard draws the analytics route's figures.
    @Test func theBetaMigrationsDashboardShowsTheAnalytics() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        var tokens: [String: String] = [:]
        for role in ["pm", "viewer"] { tokens[role] = try server.token(role: role) }
        let http = server.client()
        let pm = [("Authorization", "Bearer \(tokens["pm"]!)"), ("Content-Type", "application/json")]
        #expect(try http.request("POST", "/api/v1/beta/programs", headers: pm, body: Array(#"{"slug":"registry-metadata-db","name":"R"}"#.utf8)).status == 201)
        let x = try http.request("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", headers: pm,
                                 body: Array(#"{"organization":"O","contact_name":"C","contact_email":"c@o.example"}"#.utf8))
        let id = try #require(x.json?["id"] as? Int)
        let today = isoDate(days: PeriodKind.day.start(of: .now()) - 1)
        for (k, outcome) in ["succeeded", "failed", "succeeded"].enumerated() {
            let error = outcome == "failed" ? #","error":"timeout""# : ""
            let body = #"{"mode":"one_step","started_at":"\#(today)T0\#(k):00:00Z","finished_at":"\#(today)T0\#(k):30:00Z","outcome":"\#(outcome)","storage_driver":"s3","registry_size_bytes":\#(50 + k * 1000)000000000,"phases":[{"name":"import","started_at":"\#(today)T0\#(k):00:00Z","finished_at":"\#(today)T0\#(k):30:00Z"\#(error)}]}"#
            let r = try http.request("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments/\(id)/migrations", headers: pm, body: Array(body.utf8))
            #expect(r.status == 201, "\(r.text)")
        }
        let api = try #require(try http.request("GET", "/api/v1/beta/programs/registry-metadata-db/analytics", headers: [("Authorization", "Bearer \(tokens["viewer"]!)")]).json)
        let dom = try renderedDOM("http://127.0.0.1:\(server.port)/?dashboard=beta-migrations#token=\(tokens["viewer"]!)")
        #expect(dom.contains("data-rendered=\"beta-migrations\"") && !dom.contains("data-state=\"error\""), "\(dom.prefix(1500))")
        let rows = try #require(try panelData(dom, "throughput")["datasets"] as? [[String: Any]])
        let throughput = try #require(api["throughput"] as? [[String: Any]])
        #expect(rows.count == throughput.count && rows.compactMap { ($0["data"] as? [Any])?.first as? Int } == throughput.compactMap { $0["runs"] as? Int }, "\(rows)")
        let phases = try panelData(dom, "failures-by-phase")
        #expect(phases["labels"] as? [String] == ["import"] && ((phases["datasets"] as? [[String: Any]])?.first?["data"] as? [Int]) == [1], "\(phases)")
        let funnel = try #require(try panelData(dom, "funnel")["datasets"] as? [[String: Any]])
        #expect(funnel.first { $0["label"] as? String == "interested" }.flatMap { ($0["data"] as? [Any])?.first as? Int } == 1)
    }

    @Test func withoutATokenThePageAsksForOne() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let dom = try renderedDOM("http://127.0.0.1:\(server.port)/")
        #expect(dom.contains("<form id=\"login\">") || dom.contains("id=\"login\" ") && !dom.contains("id=\"login\" hidden"))
        #expect(!dom.contains("data-panel="))
    }
}

@Suite struct BrowserAvailabilityTests {
    /// CI must run the browser test, never skip it silently.
    @Test func ciHasChromium() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            #expect(FileManager.default.isExecutableFile(atPath: chromiumPath), "chromium is missing: run scripts/test.sh")
        }
    }
}
