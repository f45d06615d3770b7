import Foundation
import Testing

/// Playwright for Python (scripts/playwright-venv.sh), which the interactive browser tests drive.
let playwrightPython = ProcessInfo.processInfo.environment["PINGROLL_PLAYWRIGHT_PYTHON"]

/// The explorer and the dashboards in a real headless Chromium, clicked through with Playwright
/// (Tests/Browser/drive.py), against a real `pingroll serve`.
@Suite(.enabled(if: playwrightPython != nil && FileManager.default.isExecutableFile(atPath: chromiumPath), "needs Playwright (scripts/test.sh sets it up)"))
struct ExploreBrowserTests {
    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Browser/drive.py").path

    func drive(_ arguments: [String]) throws -> [String: Any] {
        let (status, output) = try ServerProcess.runTool(playwrightPython!, [Self.driver] + arguments)
        try #require(status == 0, "drive.py \(arguments.first ?? ""): \(output)")
        let line = try #require(output.split(separator: "\n").last.map(String.init), "\(output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
    }

    /// Pings of eight installations over three weeks: versions 16.9 and 16.10, two types.
    func seeded() throws -> (ServerProcess, String) {
        let server = try ServerProcess()
        let http = server.client()
        for week in 0..<3 {
            for i in 0..<8 {
                let minor = i % 2 == 0 ? 9 : 10
                let type = i < 5 ? "omnibus-gitlab" : "gitlab-helm-chart"
                let db = (i + week) % 3 != 0
                let day = String(format: "2024-03-%02d", 4 + week * 7 + i % 3)
                let body = #"{"uuid":"u\#(i)","recorded_at":"\#(day)T12:00:00Z","version":"16.\#(minor).1-ee","edition":"EEP","installation_type":"\#(type)","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(db)}}"#
                #expect(try http.postJSON("/usage_data", body).status == 201)
            }
        }
        return (server, try server.token(role: "viewer", name: "explorer"))
    }

    @Test func theExplorerURLRendersTheAPIsNumbersAndAPointOpensItsInstallations() throws {
        let (server, token) = try seeded()
        defer { server.cleanUp() }
        let state = "metric=container_registry_server.db_enabled&interval=week&from=2024-03-04&to=2024-03-24&group_by=version"
            + "&filter=installation_type:omnibus-gitlab&show=share&view=table"
        let page = try drive(["explore", "http://127.0.0.1:\(server.port)/explore?\(state)#token=\(token)", "1", "0"])
        #expect(page["state"] as? String == "ready", "\(page)")
        let plot = try #require(page["plot"] as? [String: Any])
        let datasets = try #require(plot["datasets"] as? [[String: Any]])
        #expect(datasets.compactMap { $0["label"] as? String } == ["16.9", "16.10"], "versions sort as versions")

        let api = try #require(try server.client().request("GET", "/api/v1/series?metric=container_registry_server.db_enabled&interval=week&from=2024-03-04&to=2024-03-24&group_by=version&filter=installation_type:omnibus-gitlab",
                                                           headers: [("Authorization", "Bearer \(token)")]).json)
        let series = try #require(api["series"] as? [[String: Any]])
        for dataset in datasets {
            let group = try #require(series.first { $0["group"] as? String == dataset["label"] as? String })
            let points = try #require(group["points"] as? [[String: Any]])
            let expected = points.map { p -> Double? in (p["ratio"] as? Double).map { ($0 * 100_000).rounded() / 1000 } }
            let shown = (dataset["data"] as? [Any] ?? []).map { $0 as? Double }
            #expect(shown == expected, "\(String(describing: dataset["label"])): \(shown) vs \(expected)")
            // Each share carries its interval and low-count flag as the API gives them.
            let low = points.map { p -> Double? in (p["ci_low"] as? Double).map { ($0 * 100_000).rounded() / 1000 } }
            #expect((dataset["ciLow"] as? [Any] ?? []).map { $0 as? Double } == low, "\(dataset)")
            #expect(dataset["lowCount"] as? [Bool] == points.map { $0["low_count"] as? Bool ?? false })
        }
        // The annotations of the range are listed under the result: the two releases, first seen in the first week.
        let notes = (plot["annotations"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.sorted()
        #expect(notes == ["first ping from 16.10", "first ping from 16.9"], "\(plot["annotations"] ?? "-")")
        // The clicked cell: 16.10, the newest week. Its list holds exactly the installations true there.
        let newest = try #require((series.first { $0["group"] as? String == "16.10" }?["points"] as? [[String: Any]])?.last)
        let drill = try #require(page["drill"] as? [String: Any])
        #expect(drill["state"] as? String == "ready" && drill["count"] as? Int == newest["true"] as? Int && (newest["true"] as? Int ?? 0) > 0,
                "\(drill) vs \(newest)")
        #expect((drill["items"] as? [String] ?? []).allSatisfy { $0.contains("16.10") }, "\(drill)")
        #expect((page["url"] as? String ?? "").contains("group_by=version"), "the state stays in the URL")
        // The first listed installation's page: its three pings, newest first.
        let installation = try #require(page["installation"] as? [String: Any], "\(page)")
        let history = try #require(installation["history"] as? [String: Any], "\(installation)")
        let pings = (history["pings"] as? [[String: Any]]) ?? []
        #expect(installation["state"] as? String == "ready" && pings.count == 3, "\(installation)")
        #expect(pings.compactMap { $0["recorded_at"] as? String } == pings.compactMap { $0["recorded_at"] as? String }.sorted(by: >))
    }

    @Test func saveAsPanelPutsTheViewOnADashboard() throws {
        let dir = try DashboardEditingTests().copyOfTheShippedDashboards()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try ServerProcess(arguments: ["--dashboards", dir.path])
        defer { server.cleanUp() }
        let tokens = [try server.token(role: "viewer"), try server.token(role: "admin")]
        let view = "/explore?metric=container_registry_server.db_enabled&interval=month&from=2024-01-01&to=2024-06-30&group_by=tier&show=share"
        let refused = try drive(["save", "http://127.0.0.1:\(server.port)\(view)#token=\(tokens[0])", "service-ping-overview", "Viewer tries"])
        #expect(refused["state"] as? String == "refused" && (refused["message"] as? String ?? "").contains("admin"), "\(refused)")
        let saved = try drive(["save", "http://127.0.0.1:\(server.port)\(view)#token=\(tokens[1])", "service-ping-overview", "Adoption by tier, monthly"])
        #expect(saved["state"] as? String == "saved", "\(saved)")
        let list = try server.client().request("GET", "/api/v1/dashboards", headers: [("Authorization", "Bearer \(tokens[0])")]).json?["dashboards"] as? [[String: Any]] ?? []
        let panel = try #require((list.first { $0["slug"] as? String == "service-ping-overview" }?["panels"] as? [[String: Any]])?.last)
        let query = panel["query"] as? [String: Any] ?? [:]
        #expect(panel["title"] as? String == "Adoption by tier, monthly" && query["value"] as? String == "ratio" && query["group_by"] as? String == "tier"
                && query["interval"] as? String == "month", "\(panel)")
    }

    /// A product manager's round on /beta, clicked through in Chromium; a viewer sees the analytics only.
    @Test func aProductManagerEnrollsChangesStatusRecordsARunAndAddsFeedbackOnTheBetaPage() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        var tokens: [String: String] = [:]
        for role in ["pm", "viewer"] { tokens[role] = try server.token(role: role) }
        let created = try server.client().request("POST", "/api/v1/beta/programs", headers: [("Authorization", "Bearer \(tokens["pm"]!)"), ("Content-Type", "application/json")],
                                                  body: Array(#"{"slug":"registry-metadata-db","name":"Registry metadata database"}"#.utf8))
        #expect(created.status == 201)
        let page = try drive(["beta", "http://127.0.0.1:\(server.port)/beta#token=\(tokens["pm"]!)"])
        #expect(page["state"] as? String == "ready", "\(page)")
        #expect(page["offered"] as? [String] == ["enrolled", "withdrawn", "blocked"], "only the allowed transitions: \(page)")
        #expect(page["offered_after"] as? [String] == ["importing", "withdrawn", "blocked"], "\(page)")
        #expect((page["runs"] as? String ?? "").contains("three_step") && (page["runs"] as? String ?? "").contains("succeeded"), "\(page)")
        #expect((page["feedback"] as? String ?? "").contains("smooth import") && (page["history"] as? String ?? "").contains("migration_run"), "\(page)")
        #expect((page["table"] as? String ?? "").contains("three_step, succeeded"), "the table shows the last run: \(page)")
        // What the page did is in the store.
        let list = try server.client().request("GET", "/api/v1/beta/programs/registry-metadata-db/enrollments", headers: [("Authorization", "Bearer \(tokens["pm"]!)")])
        let x = try #require((list.json?["enrollments"] as? [[String: Any]])?.first)
        #expect(x["status"] as? String == "enrolled" && x["storage_driver"] as? String == "gcs")
        let viewer = try drive(["beta", "http://127.0.0.1:\(server.port)/beta#token=\(tokens["viewer"]!)"])
        #expect(viewer["state"] as? String == "viewer" && !(viewer["text"] as? String ?? "").contains("pat@"), "\(viewer)")
    }

    @Test func noPanelIsWiderThanAPhone() throws {
        let (server, token) = try seeded()
        defer { server.cleanUp() }
        for path in ["/?dashboard=registry-metadata-db&from=2024-03-04&to=2024-03-24", "/?dashboard=service-ping-overview&from=2024-03-04&to=2024-03-24",
                     "/?dashboard=instrumentation-health", "/?dashboard=beta-migrations", "/explore?metric=container_registry_server.db_enabled&from=2024-03-04&to=2024-03-24&group_by=version"] {
            let layout = try drive(["phone", "http://127.0.0.1:\(server.port)\(path)#token=\(token)"])
            #expect((layout["wide"] as? [Any])?.isEmpty == true && (layout["scrollWidth"] as? Int ?? 9999) <= (layout["width"] as? Int ?? 0), "\(path): \(layout)")
        }
    }
}

@Suite struct PlaywrightAvailabilityTests {
    /// CI must run the interactive browser tests, never skip them silently.
    @Test func ciHasPlaywright() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            #expect(playwrightPython != nil, "PINGROLL_PLAYWRIGHT_PYTHON is not set: run scripts/test.sh")
        }
    }

}

extension ExploreBrowserTests {
    /// Every page runs with its Content-Security-Policy enforced and violates none of it, and
    /// a script or inline handler injected into a page does not run.
    @Test func everyPageKeepsItsContentSecurityPolicyAndInjectedScriptsDoNotRun() throws {
        let (server, token) = try seeded()
        defer { server.cleanUp() }
        let pm = try server.token(role: "pm", name: "csp-pm")
        let base = "http://127.0.0.1:\(server.port)"
        for path in ["/#token=\(token)", "/explore?metric=container_registry_server.db_enabled#token=\(token)", "/beta#token=\(pm)",
                     "/installation?uuid=u1#token=\(token)", "/usage_data/new"] {
            let page = try drive(["csp", base + path])
            #expect((page["loaded_violations"] as? [Any])?.isEmpty == true && (page["errors"] as? [Any])?.isEmpty == true, "\(path): \(page)")
            #expect(page["injected_ran"] as? Bool == false && page["handler_ran"] as? Bool == false, "\(path): \(page)")
            #expect(((page["violations"] as? [String]) ?? []).contains { $0.hasPrefix("script-src") }, "\(path): the injection was reported: \(page)")
        }
        let answer = try server.client().request("GET", "/")
        #expect(answer.headers["content-security-policy"]?.contains("script-src 'self'") == true && answer.headers["x-content-type-options"] == "nosniff")
        let api = try server.client().request("GET", "/api/v1/catalog")
        #expect(api.headers["x-content-type-options"] == "nosniff" && api.headers["referrer-policy"] == "no-referrer"
                && api.headers["content-security-policy"] == nil, "\(api.headers)")
    }
}
