import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// `pingroll catalog` and `pingroll rollup rebuild|verify` as an operator runs them, next to a
/// running `pingroll serve`.
@Suite struct RollupCommandTests {
    @Test func verifyIsCleanAfterIngestAndFailsOnACorruptedRowUntilRebuilt() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let http = server.client()
        for (i, day) in ["2024-12-30", "2024-12-31", "2025-01-01", "2025-01-05"].enumerated() {
            for uuid in ["a", "b", "c"] {
                let r = try http.postJSON("/usage_data", Pings.make(uuid: uuid, recordedAt: "\(day)T23:59:0\(i)Z"))
                #expect(r.status == 201)
            }
        }
        var (status, output) = try server.runCommand(["rollup", "verify"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("0 differences"))

        try sqlite(server.databasePath, "UPDATE rollup_cells SET count = count + 5 WHERE metric = '' AND period = 1")
        (status, output) = try server.runCommand(["rollup", "verify"])
        #expect(status == 1)
        #expect(output.contains("differs: week 2024-12-30"))

        (status, output) = try server.runCommand(["rollup", "rebuild"])
        #expect(status == 0 && output.contains("from 12 pings"), "\(output)")
        (status, _) = try server.runCommand(["rollup", "verify"])
        #expect(status == 0)
    }

    /// `pingroll storage recompress` next to a running server: nothing stored whole, so nothing
    /// to rewrite and the pings still verify; hostile `--batch` values are refused with the reason.
    @Test func storageRecompressRunsBesideServeAndRefusesHostileBatchSizes() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        #expect(try server.client().postJSON("/usage_data", Pings.make(uuid: "a", recordedAt: "2025-01-06T10:00:00Z")).status == 201)
        var (status, output) = try server.runCommand(["storage", "recompress"])
        #expect(status == 0 && output.contains("rewrote 0 pings"), "\(output)")
        (status, output) = try server.runCommand(["rollup", "verify"])
        #expect(status == 0, "\(output)")
        for batch in ["0", "-1", "10001", "99999999999999999999", "x", ""] {
            (status, output) = try server.runCommand(["storage", "recompress", "--batch", batch])
            #expect(status != 0 && output.contains("batch"), "\(batch): \(output)")
        }
    }

    /// A database whose tuples an earlier pingroll built (before `internal` and
    /// `optional_metrics`): serve says a full rebuild is needed, verify lists it, rebuild fixes it.
    @Test func rollupsBuiltWithOlderTuplesAskForAFullRebuild() throws {
        let first = try ServerProcess()
        defer { first.cleanUp() }
        #expect(try first.client().postJSON("/usage_data", Pings.make(uuid: "a", recordedAt: "2025-01-06T10:00:00Z")).status == 201)
        #expect(first.stop() == 0)
        try sqlite(first.databasePath, "UPDATE rollup_metrics SET definition = 'installations|1' WHERE metric = ''")

        let again = try ServerProcess(database: first.databasePath)
        defer { again.cleanUp() }
        #expect(again.log.contains("until you run: pingroll rollup rebuild\n"), "\(again.log)")
        var (status, output) = try again.runCommand(["rollup", "verify"])
        #expect(status == 1 && output.contains("stale: (installations) (run `pingroll rollup rebuild`)"), "\(output)")
        (status, output) = try again.runCommand(["rollup", "rebuild"])
        #expect(status == 0, "\(output)")
        (status, output) = try again.runCommand(["rollup", "verify"])
        #expect(status == 0, "\(output)")
    }

    @Test func catalogListsTheTrackedMetrics() throws {
        let p = Process()
        p.executableURL = ServerProcess.binary
        p.arguments = ["catalog"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(text.contains("container_registry_server.db_enabled") && text.contains("when container_registry_enabled = true"))
        #expect(text.contains("false counts when container_registry_server.vendor = \"gitlab\""))
        #expect(text.contains("dimensions: edition, tier, installation_type, version, registry_vendor, internal, optional_metrics"))
        let vendor = text.split(separator: "\n").first { $0.hasPrefix("container_registry_server.vendor ") } ?? ""
        #expect(vendor.contains("data category optional"), "\(vendor)")
    }

    @Test func rebuildRefusesAMetricThatIsNotInTheCatalog() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let (status, output) = try server.runCommand(["rollup", "rebuild", "--metric", "no.such.metric"])
        #expect(status != 0 && output.contains("not in the catalog"))
    }

    func sqlite(_ path: String, _ sql: String) throws {
        let conn = try SQLiteConnection(path: path)
        defer { conn.close() }
        try conn.execute(sql)
    }
}

@Suite struct TokenCommandTests {
    @Test func aCreatedTokenOpensTheAPIUntilRevoked() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let (status, output) = try server.runCommand(["token", "create", "--role", "viewer", "--name", "grafana"])
        #expect(status == 0)
        let token = try #require(output.split(separator: "\n").last.map(String.init))
        let http = server.client()
        let auth = [("Authorization", "Bearer \(token)")]
        #expect(try http.request("GET", "/api/v1/catalog").status == 401)
        #expect(try http.request("GET", "/api/v1/catalog", headers: auth).status == 200)
        let list = try server.runCommand(["token", "list"])
        #expect(list.1.hasPrefix("NAME") && list.1.contains("grafana  viewer") && !list.1.contains(token), "\(list.1)")
        let json = try server.runCommand(["token", "list", "--json"]).1
        let tokens = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(tokens?.first?["name"] as? String == "grafana" && tokens?.first?["role"] as? String == "viewer" && !json.contains(token), "\(json)")
        #expect(try server.runCommand(["token", "revoke", "grafana"]).0 == 0)
        #expect(try http.request("GET", "/api/v1/catalog", headers: auth).status == 401)
        #expect(try server.runCommand(["token", "revoke", "grafana"]).0 != 0)
    }
}
