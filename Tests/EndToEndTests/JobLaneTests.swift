import Foundation
import Glibc
import Testing
import PingRollCore
@testable import PingRollStore

/// The job lane across a process's death: a job the dead process was running is failed as
/// interrupted on the next start, and its request sent again completes the work exactly once.
@Suite struct JobLaneTests {
    @Test func anImportKilledMidwayIsInterruptedAndTheSameRequestAgainCompletesItWithoutDuplicates() throws {
        let rows = 60_000
        let csv = "organization,contact_name,contact_email,status,created_at,enrolled_at\r\n"
            + (0..<rows).map { "Org \($0),Contact \($0),c\($0)@org.example,\($0 % 2 == 0 ? "enrolled" : ""),2025-01-0\($0 % 9 + 1),\($0 % 2 == 0 ? "2025-02-01" : "")\r\n" }.joined()
        let first = try ServerProcess()
        defer { first.cleanUp() }
        let pm = try first.token(role: "pm")
        let headers = [("Authorization", "Bearer \(pm)"), ("Content-Type", "application/json")]
        #expect(try first.client().postJSON("/api/v1/beta/programs", #"{"slug":"big","name":"Big"}"#, headers: headers).status == 201)
        let csvHeaders = [("Authorization", "Bearer \(pm)"), ("Content-Type", "text/csv")]
        let started = try first.client().request("POST", "/api/v1/beta/programs/big/enrollments/import", headers: csvHeaders, body: Array(csv.utf8))
        #expect(started.status == 202, "\(started.status) \(started.text.prefix(300))")
        let id = try #require(started.json?["id"] as? Int)
        // Killed once some rows are written, well before the end.
        let deadline = Date().addingTimeInterval(60)
        var done = 0
        while Date() < deadline {
            let job = try first.client().request("GET", "/api/v1/jobs/\(id)", headers: headers).json ?? [:]
            done = (job["progress"] as? [String: Any])?["done"] as? Int ?? 0
            if done > 0 || job["state"] as? String != "running" && job["state"] as? String != "queued" { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(done > 0 && done < rows, "the import was midway when killed: \(done)")
        _ = first.stop(signal: SIGKILL)
        do {
            let store = try SQLiteStore(path: first.databasePath)
            defer { store.close() }
            let written = try Self.count(store)
            #expect(written > 0 && written < rows, "part of the import was written: \(written)")
        }

        let second = try ServerProcess(database: first.databasePath)
        defer { second.cleanUp() }
        let job = try second.client().request("GET", "/api/v1/jobs/\(id)", headers: headers).json ?? [:]
        #expect(job["state"] as? String == "failed" && (job["error"] as? String)?.hasPrefix("interrupted") == true, "\(job)")
        let again = try second.client().finishedJob(try second.client().request("POST", "/api/v1/beta/programs/big/enrollments/import",
                                                                                 headers: csvHeaders, body: Array(csv.utf8)), headers: csvHeaders)
        #expect(again.status == 200 && again.json?["created"] as? Int == rows, "\(again.status) \(again.text.prefix(300))")
        _ = second.stop()
        let store = try SQLiteStore(path: first.databasePath)
        defer { store.close() }
        #expect(try Self.count(store) == rows, "every row once")
    }

    static func count(_ store: SQLiteStore) throws -> Int {
        var n = 0
        var after: Int64 = 0
        while case let page = try store.enrollments(program: "big", after: after, limit: 5_000), let last = page.last {
            n += page.count
            #expect(Set(page.map(\.organization)).count == page.count)
            after = last.id
        }
        return n
    }
}
