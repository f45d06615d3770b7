import Foundation
import Glibc
import Testing

/// Dashboards change without a restart: a reload (SIGHUP or the admin route) and "save as panel".
@Suite struct DashboardEditingTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("dashboards")

    func copyOfTheShippedDashboards() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-dashboards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.shipped.path) where file.hasSuffix(".json") {
            try FileManager.default.copyItem(at: Self.shipped.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        return dir
    }

    func token(_ server: ServerProcess, _ role: String) throws -> [(String, String)] {
        [("Authorization", "Bearer \(try server.token(role: role))"), ("Content-Type", "application/json")]
    }

    func titles(_ server: ServerProcess, _ auth: [(String, String)], _ slug: String) throws -> [String] {
        let list = try server.client().request("GET", "/api/v1/dashboards", headers: auth).json?["dashboards"] as? [[String: Any]] ?? []
        return (list.first { $0["slug"] as? String == slug }?["panels"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
    }

    @Test func aSavedPanelIsWrittenIntoItsDashboardAndServedAtOnce() throws {
        let dir = try copyOfTheShippedDashboards()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try ServerProcess(arguments: ["--dashboards", dir.path])
        defer { server.cleanUp() }
        let admin = try token(server, "admin"), viewer = try token(server, "viewer")
        let panel = #"{"id":"db-by-tier","title":"Metadata database by tier","chart":"line","query":{"metric":"container_registry_server.db_enabled","group_by":"tier","value":"ratio"}}"#
        let http = server.client()
        #expect(try http.request("POST", "/api/v1/dashboards/service-ping-overview/panels", headers: viewer, body: Array(panel.utf8)).status == 403)
        let saved = try http.request("POST", "/api/v1/dashboards/service-ping-overview/panels", headers: admin, body: Array(panel.utf8))
        #expect(saved.status == 201, "\(saved.text)")
        #expect(try titles(server, viewer, "service-ping-overview").last == "Metadata database by tier")
        let file = try String(contentsOf: dir.appendingPathComponent("service-ping-overview.json"), encoding: .utf8)
        #expect(file.contains("db-by-tier") && file.contains("Scheduled pulls"), "the other panels are kept")

        let refusals: [(String, String, Int, String)] = [
            ("service-ping-overview", panel, 422, "used twice"),
            ("service-ping-overview", #"{"id":"x","title":"x","chart":"line","query":{"metric":"nope","value":"ratio"}}"#, 422, "not in the catalog"),
            ("nope", #"{"id":"y","title":"y","chart":"line","query":{"metric":"container_registry_enabled","value":"ratio"}}"#, 404, "no dashboard nope"),
            ("service-ping-overview", "[1]", 400, "must be a panel"),
            ("service-ping-overview", "{nope", 400, "invalid_json"),
        ]
        for (slug, body, status, message) in refusals {
            let r = try http.request("POST", "/api/v1/dashboards/\(slug)/panels", headers: admin, body: Array(body.utf8))
            #expect(r.status == status && r.text.contains(message), "\(body): \(r.status) \(r.text)")
        }
    }

    @Test func sighupAndTheReloadRouteRereadTheDefinitionsAndKeepThemWhenOneIsBroken() throws {
        let dir = try copyOfTheShippedDashboards()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try ServerProcess(arguments: ["--dashboards", dir.path])
        defer { server.cleanUp() }
        let admin = try token(server, "admin")
        let file = dir.appendingPathComponent("instrumentation-health.json")
        let original = try String(contentsOf: file, encoding: .utf8)
        try original.replacingOccurrences(of: "\"Slowest metrics\"", with: "\"Slowest metrics (renamed)\"").write(to: file, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        var seen: [String] = []
        for _ in 0..<100 {
            seen = try titles(server, admin, "instrumentation-health")
            if seen.first == "Slowest metrics (renamed)" { break }
            usleep(50_000)
        }
        #expect(seen.first == "Slowest metrics (renamed)", "\(seen)")

        try "{\"slug\": \"broken\"".write(to: dir.appendingPathComponent("broken.json"), atomically: true, encoding: .utf8)
        let refused = try server.client().request("POST", "/api/v1/dashboards/reload", headers: admin)
        #expect(refused.status == 422 && refused.text.contains("broken.json"), "\(refused.text)")
        kill(server.process.processIdentifier, SIGHUP)
        for _ in 0..<100 where !server.log.contains("SIGHUP: kept the dashboards in use") { usleep(50_000) }
        #expect(try titles(server, admin, "instrumentation-health").first == "Slowest metrics (renamed)", "kept")
        #expect(server.log.contains("SIGHUP: kept the dashboards in use"), "\(server.log)")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("broken.json"))
        let reloaded = try server.client().request("POST", "/api/v1/dashboards/reload", headers: admin)
        #expect(reloaded.status == 200 && (reloaded.json?["dashboards"] as? [Any])?.count == 4, "\(reloaded.text)")
    }
}
