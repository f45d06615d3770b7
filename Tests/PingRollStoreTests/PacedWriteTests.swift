import Foundation
import Synchronization
import Testing
import PingRollCore
@testable import PingRollStore

/// Long writes are cut into transactions by elapsed time, and an import stopped midway (a
/// cancel, or a process killed) completes when run again, without a row twice.
@Suite struct PacedWriteTests {
    @Test func theNextSizeFollowsTheTimeTheLastTransactionTook() {
        var pacing = WriterPacing(hold: .milliseconds(100), initial: 10, maxSize: 10_000)
        pacing.record(units: 10, elapsed: .milliseconds(1))   // fast: grows, but at most doubles
        #expect(pacing.size == 20)
        pacing.record(units: 20, elapsed: .milliseconds(400)) // slow: 50/s × 0.1 s × 0.9 = 4
        #expect(pacing.size == 4)
        pacing.record(units: 4, elapsed: .seconds(10))        // very slow: never below one
        #expect(pacing.size == 1)
        for _ in 0..<40 { pacing.record(units: pacing.size, elapsed: .microseconds(1)) }
        #expect(pacing.size == 10_000, "capped at maxSize")
        #expect(pacing.longest == .seconds(10) && pacing.transactions == 43)
    }

    static func plan(rows: Int, key: String = "k1") -> EnrollmentImportPlan {
        var plan = EnrollmentImportPlan(key: key, token: "t")
        let at = Timestamp.parseISO8601("2025-03-01T00:00:00Z")!
        for i in 0..<rows {
            var x = Enrollment(program: "p", organization: "Org \(i)", contactName: "C", contactEmail: "c\(i)@x.example")
            x.createdAt = at
            x.updatedAt = at
            plan.creations.append(.init(row: i + 2, enrollment: x, statusPath: i % 3 == 0 ? [(.interested, at), (.enrolled, Timestamp(milliseconds: at.milliseconds + 86_400_000))] : []))
        }
        return plan
    }

    @Test(arguments: Backend.available)
    func anImportStoppedMidwayCompletesWhenRunAgainWithoutARowTwice(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        let plan = Self.plan(rows: 3_000)
        // Stopped after its first transaction, as a cancel or a kill would leave it.
        let transactions = Atomic<Int>(0)
        let first = try store.importEnrollments(plan, progress: { _ in transactions.add(1, ordering: .relaxed) },
                                                stop: { transactions.load(ordering: .relaxed) >= 1 })
        #expect(first.stopped && first.created > 0 && first.created < 3_000, "\(first.created)")
        let second = try store.importEnrollments(plan, progress: nil, stop: nil)
        #expect(!second.stopped && second.created == 3_000, "the rows created before count as created: \(second.created)")
        var all: [Enrollment] = []
        var after: Int64 = 0
        while case let page = try store.enrollments(program: "p", after: after, limit: 1_000), !page.isEmpty {
            all += page
            after = page.last!.id
        }
        #expect(all.count == 3_000 && Set(all.map(\.organization)).count == 3_000, "\(all.count)")
        #expect(all.filter { $0.status == .enrolled }.count == 1_000, "each status path was written once, whole")
        let history = try store.enrollmentHistory(id: all[0].id)
        #expect(history.filter { $0.field == "status" }.count == 2, "\(history)")
        // The same rows under another key (another file) are another import.
        let other = try store.importEnrollments(Self.plan(rows: 2, key: "k2"), progress: nil, stop: nil)
        #expect(other.created == 2)
        #expect(second.longestHold < .seconds(2), "paced: \(second.longestHold)")
    }

    /// A CLI rebuild sees a serving pingroll's commits (another connection to the same file).
    @Test func aSQLiteStoreSeesAnotherProcessesCommitsAndNotItsOwn() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-paced-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db.sqlite3").path
        let a = try SQLiteStore(path: path), b = try SQLiteStore(path: path)
        defer { a.close(); b.close() }
        _ = try a.migrate()
        _ = a.otherWritersActive()  // the first look sets the baseline
        try a.createProgram(BetaProgram(slug: "own", name: "Own", description: nil, phases: []))
        #expect(!a.otherWritersActive(), "its own commit is not another writer")
        try b.createProgram(BetaProgram(slug: "other", name: "Other", description: nil, phases: []))
        #expect(a.otherWritersActive())
        #expect(!a.otherWritersActive(), "nothing since the last look")
    }

    /// A registry upload stopped between transactions keeps what it stored; the same upload
    /// again adds the rest and nothing twice (runs are known by their registry import ids).
    @Test(arguments: Backend.available)
    func aRunsUploadStoppedMidwayCompletesWhenSentAgain(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        let x = try store.createEnrollment(Enrollment(program: "p", organization: "O", contactName: "C", contactEmail: "c@example.com"), by: "t")
        let runs = (0..<2_000).map { i -> MigrationRun in
            var run = MigrationRun(mode: .oneStep, startedAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(i) * 1000), outcome: .running)
            run.registryImportIDs = [Int64(i)]
            return run
        }
        let steps = Atomic<Int>(0)
        let first = try store.createRuns(runs, enrollmentID: x, program: "p", by: "t", progress: { _ in steps.add(1, ordering: .relaxed) },
                                         stop: { steps.load(ordering: .relaxed) >= 1 })
        #expect(first.count > 0 && first.count < 2_000, "\(first.count)")
        let second = try store.createRuns(runs, enrollmentID: x, program: "p", by: "t", progress: nil, stop: nil)
        #expect(first.count + second.count == 2_000)
        #expect(try store.runs(enrollmentID: x).count == 2_000)
    }
}
