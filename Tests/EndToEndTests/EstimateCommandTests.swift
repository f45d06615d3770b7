import Foundation
import Testing

/// `pingroll estimate backtest` on a random fleet from `scripts/random-fleet.py`, and
/// `pingroll population import/show`.
@Suite struct EstimateCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theBacktestOfARandomFleetCoversTheTruthBetween90And99Percent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-estimate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite3").path, fleet = dir.appendingPathComponent("fleet.ndjson").path
        let script = Self.root.appendingPathComponent("scripts/random-fleet.py").path
        let made = try ServerProcess.runTool("/bin/sh", ["-c", "python3 '\(script)' 11 300 16 > '\(fleet)'"])
        #expect(made.0 == 0 && made.1.contains("wrote"), "\(made.1)")
        #expect(try ServerProcess.run(["migrate", "--database", db]).0 == 0)
        let imported = try ServerProcess.run(["import", "--database", db, fleet])
        #expect(imported.0 == 0 && imported.1.contains("0 rejected"), "\(imported.1)")

        for method in ["last_value", "population"] {
            let (status, output) = try ServerProcess.run(["estimate", "backtest", "--database", db, "--metric", "container_registry_server.db_enabled",
                                                          "--method", method, "--seeds", "10", "--json"])
            #expect(status == 0, "\(output)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            #expect(json["periods"] as? Int == 16 && json["method"] as? String == method && json["hide"] as? Double == 0.2)
            let cases = try #require(json["cases"] as? Int), coverage = try #require(json["coverage"] as? Double)
            #expect(cases >= 140, "\(method): \(cases) cases")
            #expect((0.90...0.99).contains(coverage), "\(method): coverage \(coverage)")
            #expect((json["mape"] as? Double ?? 1) < 0.1, "\(method): \(output)")
        }
        let text = try ServerProcess.run(["estimate", "backtest", "--database", db, "--metric", "container_registry_server.db_enabled", "--seeds", "2"])
        #expect(text.0 == 0 && text.1.contains("95 % interval coverage: ") && text.1.contains("MAPE of estimated_true: "), "\(text.1)")
        for (arguments, complaint) in [(["--metric", "active_user_count"], "boolean"), (["--metric", "container_registry_server.db_enabled", "--hide", "1"], "--hide"),
                                       (["--metric", "container_registry_server.db_enabled", "--interval", "day"], "--interval"),
                                       (["--metric", "container_registry_server.db_enabled", "--from", "2026-01-01"], "--to")] {
            let (status, output) = try ServerProcess.run(["estimate", "backtest", "--database", db] + arguments)
            #expect(status != 0 && output.contains(complaint), "\(arguments): \(output)")
        }
    }

    @Test func populationImportChecksEveryRowAndShowPrintsIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-population-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite3").path
        #expect(try ServerProcess.run(["migrate", "--database", db]).0 == 0)
        let good = dir.appendingPathComponent("good.csv"), bad = dir.appendingPathComponent("bad.csv")
        try "period_start,dimension,value,installations\r\n2026-10,tier,premium,1200\r\n2026-11,tier,premium,1250\r\n".write(to: good, atomically: true, encoding: .utf8)
        try "period_start,dimension,value,installations\n2026-10,tier,premium,1200\n2026-11,tier,premium,lots\n".write(to: bad, atomically: true, encoding: .utf8)
        var (status, output) = try ServerProcess.run(["population", "import", "--database", db, good.path])
        #expect(status == 0 && output.contains("stored 2 population rows"), "\(output)")
        (status, output) = try ServerProcess.run(["population", "import", "--database", db, bad.path])
        #expect(status != 0 && output.contains("bad.csv: row 3, column `installations`"), "\(output)")
        (status, output) = try ServerProcess.run(["population", "show", "--database", db])
        #expect(status == 0 && output.contains("2026-11-01") && output.contains("1250"), "the bad file changed nothing: \(output)")
    }
}
