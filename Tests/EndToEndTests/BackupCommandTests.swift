import Foundation
import Synchronization
import Testing
@testable import PingRollStore

/// `pingroll backup` beside a serving pingroll under load.
@Suite struct BackupCommandTests {
    @Test func aBackupTakenUnderLoadVerifiesCleanAndHoldsEveryPingAcknowledgedBeforeItStarted() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let acknowledged = Mutex<[Int64]>([])
        @Sendable func post(_ client: HTTPClient, _ uuid: String, _ at: String) {
            guard let r = try? client.postJSON("/usage_data", Pings.make(uuid: uuid, recordedAt: at, approximateBytes: 4_000)), r.status == 201,
                  let id = ((r.json?["conv_index"] as? [String: Any])?["usage_data_id"] as? NSNumber)?.int64Value else { return }
            acknowledged.withLock { $0.append(id) }
        }
        let http = server.client()
        for i in 0..<150 { post(http, "inst-\(i % 50)", "2025-03-\(String(format: "%02d", 1 + i / 50))T10:00:00Z") }
        let done = Atomic<Bool>(false)
        let poster = Thread {
            let client = server.client()
            var i = 0
            while !done.load(ordering: .relaxed) {
                post(client, "load-\(i % 30)", "2025-04-\(String(format: "%02d", 1 + (i / 30) % 28))T\(String(format: "%02d", (i / 840) % 24)):00:00Z")
                i += 1
            }
        }
        poster.start()
        Thread.sleep(forTimeInterval: 0.2)
        let before = Set(acknowledged.withLock { $0 })
        let copy = server.directory.appendingPathComponent("copy.sqlite3").path
        let (status, output) = try server.runCommand(["backup", "--output", copy])
        done.store(true, ordering: .relaxed)
        while poster.isExecuting { Thread.sleep(forTimeInterval: 0.01) }
        #expect(status == 0 && output.contains("backed up"), "\(output)")
        #expect(acknowledged.withLock { $0.count } > before.count, "pings were acknowledged while the backup ran")

        let conn = try SQLiteConnection(path: copy)
        let stored = Set(try conn.query("SELECT id FROM pings", [], operation: "test").compactMap { $0.first?.int64 })
        conn.close()
        #expect(before.isSubset(of: stored), "\(before.subtracting(stored).count) acknowledged pings missing from the copy")
        let (verified, report) = try ServerProcess.run(["backup", "--verify", copy])
        #expect(verified == 0 && report.contains("integrity ok") && report.contains("clean"), "\(report)")
        // The live database is untouched and still verifies.
        #expect(try server.runCommand(["rollup", "verify"]).0 == 0)
    }

    @Test func aBackupNeverOverwritesAndRefusesWhatItCannotDo() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        #expect(try server.client().postJSON("/usage_data", Pings.make(uuid: "a", recordedAt: "2025-03-01T10:00:00Z")).status == 201)
        let existing = server.directory.appendingPathComponent("existing").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
        var (status, output) = try server.runCommand(["backup", "--output", existing])
        #expect(status != 0 && output.contains("never overwrites"), "\(output)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")
        (status, output) = try server.runCommand(["backup", "--output", "/nonexistent-dir/\(UUID().uuidString)/copy.sqlite3"])
        #expect(status != 0 && output.contains("cannot back up"), "\(output)")
        (status, output) = try ServerProcess.run(["backup", "--output", "/tmp/x.sqlite3", "--database", "postgresql://nobody@127.0.0.1:1/none"])
        #expect(status != 0 && output.contains("pg_dump"), "\(output)")
        (status, output) = try ServerProcess.run(["backup", "--verify", existing])
        #expect(status != 0, "\(output)")
        (status, output) = try server.runCommand(["backup"])
        #expect(status != 0 && output.contains("exactly one of"), "\(output)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.directory.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}
