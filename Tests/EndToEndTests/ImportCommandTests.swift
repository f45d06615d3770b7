import Foundation
import Testing
import PingRollCore
import PingRollStore

@Suite struct ImportCommandTests {
    @Test func importsNDJSONOnceQuarantinesBadLinesAndReRunsChangeNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite3").path
        var lines = (0..<300).map { Pings.make(uuid: "imp-\($0 % 100)", recordedAt: "2024-0\(1 + $0 / 100)-15T10:00:00Z", approximateBytes: 3_000) }
        lines.insert("{not json", at: 7)
        lines.insert(#"{"uuid":"no-time"}"#, at: 150)
        let plain = dir.appendingPathComponent("pings.ndjson")
        try (lines.joined(separator: "\n") + "\n").write(to: plain, atomically: true, encoding: .utf8)
        let gz = dir.appendingPathComponent("more.ndjson.gz")
        try Data(try gzip(Array((Pings.make(uuid: "gz-1", approximateBytes: 2_000) + "\r\n").utf8))).write(to: gz)

        var (status, output) = try ServerProcess.run(["import", "--database", db, "--batch", "64", plain.path, gz.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("imported 303 lines") && output.contains("301 new, 0 duplicates, 2 rejected"), "\(output)")
        let store = try SQLiteStore(path: db)
        defer { store.close() }
        #expect(try store.statistics().pings == 301)
        let messages = try store.quarantine(limit: 10).map(\.record.message)
        #expect(messages.contains { $0.hasPrefix("pings.ndjson line 8:") } && messages.contains { $0.hasPrefix("pings.ndjson line 151:") })

        (status, output) = try ServerProcess.run(["import", "--database", db, plain.path, gz.path])
        #expect(status == 0 && output.contains("0 new, 301 duplicates"), "\(output)")
        #expect(try store.statistics().pings == 301)
        #expect(try ServerProcess.run(["rollup", "verify", "--database", db]).0 == 0)
        #expect(try ServerProcess.run(["import", "--database", db, dir.appendingPathComponent("missing.ndjson").path]).0 != 0)
    }
}
