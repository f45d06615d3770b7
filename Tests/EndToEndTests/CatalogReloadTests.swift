import Foundation
import Glibc
import Testing

/// The metric catalog is reloaded without a restart (SIGHUP, `POST /api/v1/catalog/reload`).
@Suite struct CatalogReloadTests {
    static let shippedCatalog = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("schemas/metrics.catalog.json")

    func catalogs(_ server: ServerProcess, _ auth: [(String, String)]) throws -> [String] {
        (try server.client().request("GET", "/api/v1/catalog", headers: auth).json?["metrics"] as? [[String: Any]] ?? []).compactMap { $0["key_path"] as? String }
    }

    @Test func aReloadedCatalogIsServedAndItsNewMetricIsStaleUntilRebuilt() throws {
        let dir = try DashboardEditingTests().copyOfTheShippedDashboards()
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalogFile = dir.appendingPathComponent("catalog.json.txt")
        let shipped = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.shippedCatalog)) as! [String: Any]
        try JSONSerialization.data(withJSONObject: shipped).write(to: catalogFile)
        let server = try ServerProcess(arguments: ["--catalog", catalogFile.path, "--dashboards", dir.path])
        defer { server.cleanUp() }
        let http = server.client()
        for i in 0..<4 {
            let body = #"{"uuid":"c\#(i)","recorded_at":"2024-05-0\#(i + 1)T10:00:00Z","version":"16.9.0","gitaly":{"servers":\#(i + 1)}}"#
            #expect(try http.postJSON("/usage_data", body).status == 201)
        }
        let auth = [("Authorization", "Bearer \(try server.token(role: "admin"))")]
        #expect(try !catalogs(server, auth).contains("gitaly.servers_added"))

        // A new metric: served at once, stale (pings exist) until `rollup rebuild --metric`.
        var wider = shipped
        wider["metrics"] = (shipped["metrics"] as! [[String: Any]]) + [["key_path": "gitaly.servers_added", "value_type": "number", "data_category": "standard",
                                                                         "description": "test"]]
        try JSONSerialization.data(withJSONObject: wider).write(to: catalogFile)
        let reloaded = try http.request("POST", "/api/v1/catalog/reload", headers: auth)
        #expect(reloaded.status == 200 && (reloaded.json?["stale"] as? [String]) == ["gitaly.servers_added"] && reloaded.json?["dashboards"] as? Int == 4,
                "\(reloaded.text)")
        #expect(try catalogs(server, auth).contains("gitaly.servers_added"))
        #expect(try http.postJSON("/usage_data", #"{"uuid":"c9","recorded_at":"2024-05-09T10:00:00Z","version":"16.9.0"}"#).status == 201)
        var (status, text) = try server.runCommand(["rollup", "verify", "--catalog", catalogFile.path])
        #expect(status == 1 && text.contains("stale: gitaly.servers_added"), "\(text)")
        (status, text) = try server.runCommand(["rollup", "rebuild", "--metric", "gitaly.servers_added", "--catalog", catalogFile.path])
        #expect(status == 0, "\(text)")
        (status, text) = try server.runCommand(["rollup", "verify", "--catalog", catalogFile.path])
        #expect(status == 0, "\(text)")

        // A broken file, or one the dashboards no longer fit, changes nothing.
        try "{\"metrics\": [".write(to: catalogFile, atomically: true, encoding: .utf8)
        let broken = try http.request("POST", "/api/v1/catalog/reload", headers: auth)
        #expect(broken.status == 422 && broken.text.contains("kept"), "\(broken.text)")
        var narrower = shipped
        narrower["metrics"] = (shipped["metrics"] as! [[String: Any]]).filter { $0["key_path"] as? String != "container_registry_server.db_enabled" }
        try JSONSerialization.data(withJSONObject: narrower).write(to: catalogFile)
        let unfit = try http.request("POST", "/api/v1/catalog/reload", headers: auth)
        #expect(unfit.status == 422 && unfit.text.contains("dashboards do not fit"), "\(unfit.text)")
        #expect(try catalogs(server, auth).contains("container_registry_server.db_enabled") && catalogs(server, auth).contains("gitaly.servers_added"))

        // SIGHUP reloads it too.
        try JSONSerialization.data(withJSONObject: shipped).write(to: catalogFile)
        kill(server.process.processIdentifier, SIGHUP)
        var served: [String] = []
        for _ in 0..<100 {
            served = try catalogs(server, auth)
            // The log line follows the swap: wait for both.
            if !served.contains("gitaly.servers_added") && server.log.contains("SIGHUP: reloaded the metric catalog") { break }
            usleep(50_000)
        }
        #expect(!served.contains("gitaly.servers_added") && server.log.contains("SIGHUP: reloaded the metric catalog"), "\(server.log.suffix(800))")
    }
}
