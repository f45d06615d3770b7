import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// Retention drops raw payloads and old reports; every rollup stays exactly as it was.
@Suite struct RetentionTests {
    typealias Spec = RollupPropertyTests.Spec
    static let catalog = RollupPropertyTests.catalog
    /// The random streams span 2024-12-20 to 2025-01-24: a cut-off on 2025-01-05 leaves all of
    /// December (a whole month, a whole partition on PostgreSQL) and part of January before it.
    static let cutoff = Timestamp.parseISO8601("2025-01-05T00:00:00Z")!
    static let days = 30
    static var now: Timestamp { Timestamp(milliseconds: cutoff.milliseconds + Int64(days) * 86_400_000) }

    /// The distinct pings of `specs` (dedupe by installation and recorded_at).
    static func distinct(_ specs: [Spec]) -> [Spec] {
        var seen = Set<String>()
        return specs.filter { seen.insert("\($0.uuid)|\($0.hostname.lowercased())|\($0.recordedAt)").inserted }
    }

    static func pingIDs(_ db: TestDatabase, before: Bool) throws -> [Int64] {
        try db.sql("SELECT id FROM pings WHERE recorded_at \(before ? "<" : ">=") $1 ORDER BY id", [.integer(cutoff.milliseconds)]).compactMap { $0[0].int64 }
    }

    @Test(arguments: Backend.available)
    func droppingPayloadsLeavesEveryRollupCellAndVerifyAsTheyWere(backend: Backend) throws {
        for seed in UInt64(1)...4 {
            let (specs, db, store) = try OnlineRebuildTests().seeded(backend, seed: seed)
            defer { store.close() }
            let before = try store.rollupCells(metrics: nil)
            let old = Self.distinct(specs).filter { $0.recordedAt < Self.cutoff.milliseconds }
            let policy = RetentionPolicy(payloadDays: Self.days)

            let dry = try store.applyRetention(policy, now: Self.now, dryRun: true, batch: 7, progress: nil)
            #expect(dry.payloads == Int64(old.count) && dry.payloadBytes > 0 || old.isEmpty, "seed \(seed): \(dry.payloads) of \(old.count)")
            #expect(try Self.pingIDs(db, before: true).allSatisfy { try store.ping(id: $0)?.payloadDropped == false }, "a dry run changes nothing")

            let report = try store.applyRetention(policy, now: Self.now, dryRun: false, batch: 7, progress: nil)
            #expect(report.payloads == dry.payloads && report.payloadBytes == dry.payloadBytes && report.partitions == dry.partitions, "seed \(seed)")
            #expect(report.payloadCutoff == Self.cutoff)
            if backend == .postgres {
                let december = old.contains { $0.recordedAt < Timestamp.parseISO8601("2025-01-01T00:00:00Z")!.milliseconds }
                #expect(report.partitions == (december ? ["pings_p202412"] : []), "December goes whole: \(report.partitions)")
            } else {
                #expect(report.partitions.isEmpty)
            }
            #expect(try store.rollupCells(metrics: nil) == before, "seed \(seed): the rollups are exactly as they were")
            let verification = try store.verifyRollups(progress: nil)
            #expect(verification.isClean && verification.pings == Self.distinct(specs).count, "seed \(seed): \(verification.differences.prefix(3))")

            for id in try Self.pingIDs(db, before: true) {
                let ping = try #require(try store.ping(id: id))
                #expect(ping.payloadDropped && ping.payload.isEmpty && ping.recordedAt < Self.cutoff, "ping \(id)")
            }
            for id in try Self.pingIDs(db, before: false) {
                let ping = try #require(try store.ping(id: id))
                #expect(!ping.payloadDropped && !ping.payload.isEmpty, "ping \(id) keeps its payload")
            }
            let again = try store.applyRetention(policy, now: Self.now, dryRun: false, batch: 7, progress: nil)
            #expect(again.payloads == 0 && again.partitions.isEmpty, "idempotent")
            let runs = try store.retentionRuns(limit: 10)
            #expect(runs.count == 2 && runs[0].report.payloads == 0 && runs[1].report.payloads == report.payloads
                    && runs[1].report.policy == policy, "dry runs are not recorded: \(runs.map(\.report.payloads))")

            // A full rebuild afterwards still reproduces every cell (from the stored observations).
            let rebuilt = try store.rebuildRollups(metrics: nil, progress: nil)
            #expect(rebuilt.droppedPayloads == old.count, "seed \(seed)")
            // (It re-admits string values in its own order, so compare with the reference for what it admitted.)
            let expected = RollupPropertyTests.reference(specs, admitted: try RollupPropertyTests.admittedValues(db))
            let live = try store.rollupCells(metrics: nil)
            let differing = expected.filter { live[$0.key] != $0.value }
            #expect(differing.isEmpty && live.filter { expected[$0.key] == nil }.isEmpty,
                    "seed \(seed): a full rebuild after retention counts from the stored observations: \(differing.prefix(2))")
        }
    }

    @Test(arguments: Backend.available)
    func pingsKeepArrivingIntoARetiredMonthAndCountExactly(backend: Backend) throws {
        let (specs, db, store) = try OnlineRebuildTests().seeded(backend, seed: 11)
        defer { store.close() }
        _ = try store.applyRetention(RetentionPolicy(payloadDays: Self.days), now: Self.now, dryRun: false, batch: 1000, progress: nil)
        // A late ping recorded in December, after December's partition was replaced.
        var late = specs[0]
        late.uuid = "uuid-late"
        late.hostname = "late.example.com"
        late.recordedAt = Timestamp.parseISO8601("2024-12-24T10:00:00Z")!.milliseconds
        let outcome = try store.write(try OnlineRebuildTests.items([late], PayloadExtractor(catalog: Self.catalog)))
        guard case .stored(let id)? = outcome.first else { Issue.record("not stored: \(outcome)"); return }
        #expect(try store.ping(id: id)?.payloadDropped == false, "stored whole until the next run")
        let expected = RollupPropertyTests.reference(specs + [late], admitted: try RollupPropertyTests.admittedValues(db))
        let live = try store.rollupCells(metrics: nil)
        #expect(live.filter { expected[$0.key] != $0.value }.isEmpty && expected.filter { live[$0.key] != $0.value }.isEmpty)
        #expect(try store.verifyRollups(progress: nil).isClean)
        let next = try store.applyRetention(RetentionPolicy(payloadDays: Self.days), now: Self.now, dryRun: false, batch: 1000, progress: nil)
        #expect(next.payloads == 1, "the late ping's payload goes at the next run")
    }

    /// A long reader of the pings (a verify's snapshot) would make the partition swap wait, and
    /// every write batch with it: after the lock timeout the month goes row by row instead.
    @Test(.enabled(if: Backend.postgresURL != nil, "needs PostgreSQL"))
    func aLongReaderMakesThePartitionSwapFallBackToRows() throws {
        let (specs, db, store) = try OnlineRebuildTests().seeded(.postgres, seed: 3)
        defer { store.close() }
        let reader = try PostgresConnection(url: db.postgresURL)
        defer { reader.close() }
        try reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT COUNT(*) FROM pings", operation: "test reader")
        let started = Date()
        let report = try store.applyRetention(RetentionPolicy(payloadDays: Self.days), now: Self.now, dryRun: false, batch: 100, progress: nil)
        let seconds = Date().timeIntervalSince(started)
        try reader.execute("ROLLBACK", operation: "test reader")
        let old = Self.distinct(specs).filter { $0.recordedAt < Self.cutoff.milliseconds }
        #expect(report.partitions.isEmpty && report.payloads == Int64(old.count), "\(report)")
        #expect(seconds < 10, "waited \(seconds) s")
        #expect(try store.verifyRollups(progress: nil).isClean)
        // Without the reader, a later month-wide cut-off swaps January whole.
        let later = Timestamp(milliseconds: Timestamp.parseISO8601("2025-02-01T00:00:00Z")!.milliseconds + Int64(Self.days) * 86_400_000)
        let next = try store.applyRetention(RetentionPolicy(payloadDays: Self.days), now: later, dryRun: false, batch: 100, progress: nil)
        #expect(next.partitions == ["pings_p202501"] || next.payloads == 0, "\(next)")
    }

    @Test(arguments: Backend.available)
    func rebuildingANewMetricAfterRetentionSaysWhichPeriodsItCouldNotBackfill(backend: Backend) throws {
        let (specs, db, store) = try OnlineRebuildTests().seeded(backend, seed: 5)
        _ = try store.applyRetention(RetentionPolicy(payloadDays: Self.days), now: Self.now, dryRun: false, batch: 1000, progress: nil)
        store.close()
        let added = MetricDefinition(keyPath: "counts.projects", valueType: .number)
        let wider = try MetricCatalog(metrics: Self.catalog.metrics + [added])
        let reopened = try db.open(catalog: wider)
        defer { reopened.close() }
        #expect(try reopened.prepareRollups() == ["counts.projects"])
        let report = try reopened.rebuildRollups(metrics: ["counts.projects"], progress: nil)
        let old = Self.distinct(specs).filter { $0.recordedAt < Self.cutoff.milliseconds }
        #expect(report.droppedPayloads == old.count)
        let weeks = report.storedOnlyPeriods[.week] ?? []
        let oldWeeks = Set(old.map { PeriodKind.week.start(of: Timestamp(milliseconds: $0.recordedAt)) })
        #expect(!weeks.isEmpty && weeks.isSubset(of: oldWeeks), "\(weeks) within \(oldWeeks)")
        #expect((report.storedOnlyPeriods[.day] ?? []).allSatisfy { $0 < PeriodKind.day.start(of: Self.cutoff) })
        #expect(try reopened.verifyRollups(progress: nil).isClean)
    }

    @Test(arguments: Backend.available)
    func reportsOlderThanTheCutoffAreDeletedAndTheQuarantineTotalFollows(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let now = Timestamp.parseISO8601("2025-06-01T00:00:00Z")!
        var items: [WriteItem] = []
        for age in [200, 100, 91, 89, 10, 0] {
            let at = Timestamp(milliseconds: now.milliseconds - Int64(age) * 86_400_000)
            items.append(.quarantine(QuarantineRecord(receivedAt: at, route: "/usage_data", status: 400, reason: "invalid_json", message: "age \(age)",
                                                      remoteAddress: "127.0.0.1", contentType: "application/json", contentEncoding: nil,
                                                      bodySize: 20, body: Array("{not json, age \(age)".utf8))))
            items.append(.clientReport(ClientReport(kind: .metadata, receivedAt: at, body: #"{"metadata":{"uuid":"u","metrics":[]}}"#)))
            items.append(.clientReport(ClientReport(kind: .error, receivedAt: at, body: #"{"error":{"uuid":"u","message":"x"}}"#)))
        }
        _ = try store.write(items)
        let stored = try store.operationalStatistics().quarantineBytes
        let policy = RetentionPolicy(reportDays: 90)
        let dry = try store.applyRetention(policy, now: now, dryRun: true, batch: 2, progress: nil)
        #expect(dry.quarantineEntries == 3 && dry.metadataReports == 3 && dry.errorReports == 3 && dry.payloads == 0)
        let report = try store.applyRetention(policy, now: now, dryRun: false, batch: 2, progress: nil)
        #expect(report == { var r = dry; r.dryRun = false; return r }(), "\(report) vs \(dry)")
        let statistics = try store.statistics()
        #expect(statistics.quarantined == 3 && statistics.pingMetadata == 3 && statistics.pingErrors == 3)
        #expect(try store.quarantine(limit: 10).map(\.record.message).sorted() == ["age 0", "age 10", "age 89"])
        let after = try store.operationalStatistics().quarantineBytes
        #expect(after == stored - report.quarantineBytes && report.quarantineBytes > 0, "the cap's total follows: \(stored) - \(report.quarantineBytes) = \(after)")
        let summed = try db.sql("SELECT CAST(COALESCE(SUM(stored_size), 0) AS BIGINT) FROM quarantine").first?[0].int64
        #expect(summed == after)
    }

    @Test func policiesOutsideTheirRangeAreRefused() throws {
        let db = TestDatabase(.sqlite)
        let store = try db.open()
        defer { store.close() }
        for policy in [RetentionPolicy(), RetentionPolicy(payloadDays: 0), RetentionPolicy(reportDays: 36_501), RetentionPolicy(payloadDays: Int.max)] {
            #expect(throws: StorageError.self, "\(policy)") { try store.applyRetention(policy, now: .now(), dryRun: true, batch: 10, progress: nil) }
        }
    }
}
