import Foundation
import Synchronization
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

    /// The rebuild runs in short transactions beside a serving pingroll: pings posted during it
    /// are all stored (no 503), and afterwards the rollups verify clean.
    @Test func rebuildRunsOnlineBesideServeAndCountsPingsPostedMeanwhileOnce() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let http = server.client()
        for i in 0..<120 {
            #expect(try http.postJSON("/usage_data", Pings.make(uuid: "inst-\(i % 40)", recordedAt: "2025-01-\(String(format: "%02d", 1 + i / 40))T10:00:00Z")).status == 201)
        }
        let statuses = Mutex<[Int]>([])
        let poster = Thread {
            let client = server.client()
            // Later pings of installations the rebuild has passed or not reached, and new ones.
            for i in 0..<90 {
                let uuid = i % 3 == 0 ? "new-\(i)" : "inst-\(i % 40)"
                let r = try? client.postJSON("/usage_data", Pings.make(uuid: uuid, recordedAt: "2025-01-\(String(format: "%02d", 10 + i / 40))T1\(i % 10):00:00Z"))
                statuses.withLock { $0.append(r?.status ?? 0) }
            }
        }
        poster.start()
        let (status, output) = try server.runCommand(["rollup", "rebuild", "--chunk", "3"])
        while poster.isExecuting { Thread.sleep(forTimeInterval: 0.01) }
        #expect(status == 0 && output.contains("transactions)"), "\(output)")
        #expect(statuses.withLock { $0 }.count == 90 && statuses.withLock { $0 }.allSatisfy { $0 == 201 }, "\(statuses.withLock { $0 })")
        let (verified, report) = try server.runCommand(["rollup", "verify"])
        #expect(verified == 0 && report.contains("over 210 pings: 0 differences"), "\(report)")
    }

    /// SIGINT stops a rebuild after its current transaction with exit status 130; the same
    /// command continues it, and `verify` in between says it is unfinished.
    @Test func anInterruptedRebuildStopsCleanlyAndTheSameCommandContinuesIt() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let http = server.client()
        for i in 0..<400 {
            #expect(try http.postJSON("/usage_data", Pings.make(uuid: "inst-\(i)", recordedAt: "2025-02-03T10:00:00Z", approximateBytes: 200)).status == 201)
        }
        let p = Process()
        p.executableURL = ServerProcess.binary
        p.arguments = ["rollup", "rebuild", "--metric", "active_user_count", "--chunk", "1", "--database", server.databasePath]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Signalled as soon as the rebuild has begun (its progress row is committed).
        let conn = try SQLiteConnection(path: server.databasePath)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, p.isRunning,
              (try? conn.query("SELECT COUNT(*) FROM rollup_rebuild", [], operation: "test"))?.first?.first?.int64 != 1 {
            Thread.sleep(forTimeInterval: 0.0005)
        }
        conn.close()
        kill(p.processIdentifier, SIGINT)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130 && stdout.contains("run the same command to continue"), "\(p.terminationStatus): \(stdout)")

        var (status, output) = try server.runCommand(["rollup", "verify"])
        #expect(status == 1 && output.contains("rebuilding: active_user_count"), "\(output)")
        (status, output) = try server.runCommand(["rollup", "rebuild", "--metric", "active_user_count"])
        #expect(status == 0 && output.contains("continued an unfinished rebuild"), "\(output)")
        (status, output) = try server.runCommand(["rollup", "verify"])
        #expect(status == 0, "\(output)")
    }

    @Test func rebuildRefusesAChunkOutsideItsRange() throws {
        for chunk in ["0", "-3", "1000001", "99999999999999999999", "x"] {
            let (status, output) = try ServerProcess.run(["rollup", "rebuild", "--chunk", chunk, "--database", "/nonexistent/x.sqlite3"])
            #expect(status != 0 && output.contains("--chunk"), "\(chunk): \(output)")
        }
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
