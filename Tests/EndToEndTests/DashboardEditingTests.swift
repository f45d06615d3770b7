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

    /// Dashboards are listed in their own order, the adoption dashboard first (`/` opens it),
    /// not by file name (which put "Beta migrations" first).
    @Test func theAdoptionDashboardIsListedFirst() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let list = try server.client().request("GET", "/api/v1/dashboards", headers: try token(server, "viewer")).json?["dashboards"] as? [[String: Any]] ?? []
        #expect(list.compactMap { $0["slug"] as? String } == ["registry-metadata-db", "service-ping-overview", "instrumentation-health", "beta-migrations"])
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

    /// Saves that would make a file pingroll cannot read back (over 4 MiB) are refused before
    /// anything is written, and the next start still works.
    @Test func aSaveThatWouldMakeTheFileTooLargeIsRefusedAndTheNextStartWorks() throws {
        let dir = try copyOfTheShippedDashboards()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try ServerProcess(arguments: ["--dashboards", dir.path])
        defer { server.cleanUp() }
        let admin = try token(server, "admin")
        let file = dir.appendingPathComponent("service-ping-overview.json").path
        let filler = String(repeating: "x", count: 60_000)
        var refused: HTTPClient.Response?
        for i in 0..<100 {
            let panel = #"{"id":"big-\#(i)","title":"big \#(i)","description":"\#(filler)","chart":"line","query":{"metric":"container_registry_enabled","value":"ratio"}}"#
            let r = try server.client().request("POST", "/api/v1/dashboards/service-ping-overview/panels", headers: admin, body: Array(panel.utf8))
            if r.status != 201 { refused = r; break }
        }
        let answer = try #require(refused, "a save was refused before the file passed 4 MiB")
        #expect(answer.status == 422 && answer.text.contains("more than the 4 MiB"), "\(answer.status) \(answer.text)")
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
        #expect(size <= 4 << 20 && size > 3 << 20, "the file is \(size) bytes")
        server.stop()
        let again = try ServerProcess(arguments: ["--dashboards", dir.path])
        defer { again.cleanUp() }
        #expect(try titles(again, try token(again, "viewer"), "service-ping-overview").count > 50)
    }

    /// A definition file that cannot be used (too large, not JSON, naming a metric the catalog
    /// lacks) never stops serve or ingest: it is left out, and the log and the list say why.
    @Test func aBrokenDefinitionIsLeftOutAtStartAndTheRestServes() throws {
        let dir = try copyOfTheShippedDashboards()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(repeating: 0x20, count: (4 << 20) + 1).write(to: dir.appendingPathComponent("huge.json"))
        try "{nope".write(to: dir.appendingPathComponent("broken.json"), atomically: true, encoding: .utf8)
        let server = try ServerProcess(arguments: ["--dashboards", dir.path])
        defer { server.cleanUp() }
        #expect(try server.client().postJSON("/usage_data", HostileClientTests.ping(uuid: "despite-dashboards", users: "2")).status == 201)
        let list = try server.client().request("GET", "/api/v1/dashboards", headers: try token(server, "viewer"))
        let problems = (list.json?["problems"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
        #expect(problems.sorted() == ["broken.json", "huge.json"], "\(list.text.prefix(400))")
        #expect(((list.json?["dashboards"] as? [Any]) ?? []).count >= 2, "the others are served")
        #expect(server.log.contains("dashboard definition huge.json left out") && server.log.contains("dashboard definition broken.json left out"))
        // A save whose reload then fails (on the broken files) puts the previous file back.
        let file = dir.appendingPathComponent("service-ping-overview.json")
        let before = try Data(contentsOf: file)
        let panel = #"{"id":"restored","title":"restored","chart":"line","query":{"metric":"container_registry_enabled","value":"ratio"}}"#
        let saved = try server.client().request("POST", "/api/v1/dashboards/service-ping-overview/panels", headers: try token(server, "admin"),
                                                body: Array(panel.utf8))
        #expect(saved.status == 409 && saved.text.contains("was restored"), "\(saved.status) \(saved.text)")
        #expect(try Data(contentsOf: file) == before)
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
