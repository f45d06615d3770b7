import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// The reads behind instrumentation health, on both backends.
@Suite struct ClientReportReadingTests {
    @Test(arguments: Backend.available)
    func eachUUIDsLatestMetadataReportInTheWindowAndTheVersionItRan(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let day = Int64(86_400_000), base = Timestamp.parseISO8601("2025-03-01T00:00:00Z")!.milliseconds
        func metadata(_ uuid: String?, _ dayOffset: Int64, _ tag: String) -> WriteItem {
            var r = ClientReport(kind: .metadata, receivedAt: Timestamp(milliseconds: base + dayOffset * day), body: #"{"metadata":{"tag":"\#(tag)"}}"#)
            r.uuid = uuid
            return .clientReport(r)
        }
        _ = try store.write([metadata("a", 0, "a0"), metadata("a", 2, "a2"), metadata("a", 5, "a5"), metadata("b", 1, "b1"),
                             metadata(nil, 1, "none"), metadata("c", 9, "c9"), metadata("b", 1, "b1-later")])
        let window = try store.latestMetadataReports(from: Timestamp(milliseconds: base), to: Timestamp(milliseconds: base + 4 * day), after: 0, limit: 10)
        let bodies = try window.map { r throws in try store.metadataBody(id: r.id) ?? "" }
        #expect(bodies.sorted() == [#"{"metadata":{"tag":"a2"}}"#, #"{"metadata":{"tag":"b1-later"}}"#], "\(bodies)")
        #expect(window.allSatisfy { !$0.folded }, "stored without their metrics read")
        let paged = try store.latestMetadataReports(from: Timestamp(milliseconds: base), to: Timestamp(milliseconds: base + 10 * day), after: 0, limit: 2)
        let rest = try store.latestMetadataReports(from: Timestamp(milliseconds: base), to: Timestamp(milliseconds: base + 10 * day),
                                                   after: paged.last?.id ?? 0, limit: 2)
        #expect((paged + rest).compactMap(\.uuid).sorted() == ["a", "b", "c"])

        _ = try store.write([.ping(pingRecord(uuid: "a", hostname: "x", recordedAt: "2025-02-01T00:00:00Z", version: "16.4.0")),
                             .ping(pingRecord(uuid: "a", hostname: "y", recordedAt: "2025-03-03T00:00:00Z", version: "16.6.2-ee"))])
        #expect(try store.versionOf(uuid: "a", at: Timestamp(milliseconds: base)).map { "\($0.major).\($0.minor)" } == "16.4")
        #expect(try store.versionOf(uuid: "a", at: Timestamp(milliseconds: base + 5 * day)).map { "\($0.major).\($0.minor)" } == "16.6")
        #expect(try store.versionOf(uuid: "a", at: Timestamp(milliseconds: base - 60 * day)) == nil)

        // A report whose metrics were read at ingest keeps them as rows, whatever the body holds.
        var folded = ClientReport(kind: .metadata, receivedAt: Timestamp(milliseconds: base + 3 * day), body: #"{"metadata":{}}"#)
        folded.uuid = "d"
        folded.metricEntries = [.init(name: "counts.a", failed: true, elapsed: 0.25), .init(name: "counts.b", failed: false, elapsed: nil)]
        _ = try store.write([.clientReport(folded)])
        let d = try #require(try store.latestMetadataReports(from: Timestamp(milliseconds: base), to: Timestamp(milliseconds: base + 4 * day), after: 0, limit: 10)
            .first { $0.uuid == "d" })
        #expect(d.folded)
        #expect(try store.metadataMetricRows(reportIDs: [d.id]) == [d.id: folded.metricEntries!])

        var error = ClientReport(kind: .error, receivedAt: Timestamp(milliseconds: base), body: #"{"error":{}}"#)
        error.uuid = "a"; error.version = "16.5.0"; error.message = "boom at x.rb:1"
        _ = try store.write([.clientReport(error)])
        let errors = try store.errorReports(from: Timestamp(milliseconds: base), to: Timestamp(milliseconds: base + day), after: 0, limit: 10)
        #expect(errors.map(\.message) == ["boom at x.rb:1"] && errors.first?.version == "16.5.0")
    }
}

@Suite struct RecordedByDayTests {
    /// Ingest health counts stored pings by the day they describe, beside the day of receipt.
    @Test(arguments: Backend.available)
    func storedPingsAreCountedByTheDayTheyDescribe(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        _ = try store.write([.ping(pingRecord(uuid: "a", recordedAt: "2025-03-01T23:59:59Z")), .ping(pingRecord(uuid: "b", recordedAt: "2025-03-01T00:00:00Z")),
                             .ping(pingRecord(uuid: "c", recordedAt: "2025-03-03T12:00:00Z")), .ping(pingRecord(uuid: "a", recordedAt: "2025-03-01T23:59:59Z"))])
        let first = try #require(days(isoDate: "2025-02-28"))
        let health = try store.ingestHealth(fromDay: first, toDay: first + 4)
        let recorded = Dictionary(uniqueKeysWithValues: health.days.map { (isoDate(days: $0.day), $0.recorded) })
        #expect(recorded["2025-03-01"] == 2 && recorded["2025-03-03"] == 1 && (recorded["2025-02-28"] ?? 0) == 0, "the duplicate is not stored: \(recorded)")
    }
}

@Suite struct InstallationHistoryReadingTests {
    @Test(arguments: Backend.available)
    func anInstallationsPingsReportsAndEnrollmentsReadBackNewestFirst(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        _ = try store.write([.ping(pingRecord(uuid: "a", hostname: "x", recordedAt: "2025-01-01T00:00:00Z", version: "16.4.0")),
                             .ping(pingRecord(uuid: "a", hostname: "y", recordedAt: "2025-02-01T00:00:00Z", version: "16.5.0")),
                             .ping(pingRecord(uuid: "b", recordedAt: "2025-02-01T00:00:00Z"))])
        var m = ClientReport(kind: .metadata, receivedAt: Timestamp(milliseconds: 1_000), body: "{}"); m.uuid = "a"
        var e = ClientReport(kind: .error, receivedAt: Timestamp(milliseconds: 2_000), body: "{}"); e.uuid = "a"; e.message = "m"
        _ = try store.write([.clientReport(m), .clientReport(e)])
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        var x = Enrollment(program: "p", organization: "O", contactName: "C", contactEmail: "c@example.com")
        x.uuid = "a"
        _ = try store.createEnrollment(x, by: "t")
        let pings = try store.pingFacts(uuid: "a", limit: 10)
        #expect(pings.map(\.version) == ["16.5.0", "16.4.0"] && pings.map(\.hostname) == ["y", "x"] && pings.allSatisfy { !$0.payloadDropped })
        #expect(try store.pingFacts(uuid: "a", limit: 1).count == 1)
        let reports = try store.clientReports(uuid: "a", limit: 5)
        #expect(reports.metadata.count == 1 && reports.errors.map(\.message) == ["m"])
        #expect(try store.enrollments(uuid: "a").map(\.program) == ["p"] && (try store.enrollments(uuid: "b")).isEmpty)
    }
}

@Suite struct MigrationRunStoreTests {
    @Test(arguments: Backend.available)
    func runsRoundTripChangeWithHistoryAndSkipKnownRegistryAttempts(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        let enrollment = try store.createEnrollment(Enrollment(program: "p", organization: "O", contactName: "C", contactEmail: "c@example.com"), by: "t")
        var run = MigrationRun(mode: .threeStep, startedAt: Timestamp.parseISO8601("2025-01-01T00:00:00Z")!, outcome: .running)
        run.phases = [MigrationRun.Phase(name: .preImport, startedAt: run.startedAt, finishedAt: nil)]
        run.registryImportIDs = [4, 5]
        run.storageDriver = "gcs"
        let stored = try store.createRuns([run, run], enrollmentID: enrollment, program: "p", by: "t")
        #expect(stored.count == 1, "the second has the same registry attempts")
        let id = try #require(stored.first?.id)
        #expect(try store.runs(enrollmentID: enrollment).map(\.storageDriver) == ["gcs"] && (try store.runs(program: "p")).count == 1)
        let result = try store.updateRun(id: id, enrollmentID: enrollment, by: "t") { old throws(FieldError) in
            var new = old
            new.outcome = .aborted
            new.finishedAt = Timestamp.parseISO8601("2025-01-02T00:00:00Z")
            try new.validate()
            return new
        }
        guard case .success(let changed)? = result else { Issue.record("\(String(describing: result))"); return }
        #expect(changed.outcome == .aborted && changed.registryImportIDs == [4, 5])
        let history = try store.enrollmentHistory(id: enrollment).map(\.field)
        #expect(history.contains("migration_run \(id)") && history.contains("migration_run \(id) outcome") && history.contains("migration_run \(id) finished_at"), "\(history)")
        #expect(try store.updateRun(id: id + 100, enrollmentID: enrollment, by: "t") { $0 } == nil)
    }
}

@Suite struct ImportedStatusPathTests {
    @Test(arguments: Backend.available)
    func anEnrollmentCreatedWithItsStatusPathHasThatHistoryAndEndsInItsLastStatus(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        var x = Enrollment(program: "p", organization: "O", contactName: "C", contactEmail: "c@example.com")
        let t = { (s: String) in Timestamp.parseISO8601(s)! }
        x.createdAt = t("2024-01-01T00:00:00Z")
        let ids = try store.createEnrollments([(x, statusPath: [(.interested, t("2024-01-01T00:00:00Z")), (.enrolled, t("2024-01-05T00:00:00Z")),
                                                               (.blocked, t("2024-01-09T00:00:00Z"))])], by: "import")
        let id = try #require(ids.first)
        let stored = try #require(try store.enrollment(id: id))
        #expect(stored.status == .blocked)
        let path = try store.enrollmentHistory(id: id).filter { $0.field == "status" }.map { "\($0.old ?? "-")>\($0.new ?? "-")@\($0.at)" }
        #expect(path == ["->interested@2024-01-01T00:00:00.000Z", "interested>enrolled@2024-01-05T00:00:00.000Z", "enrolled>blocked@2024-01-09T00:00:00.000Z"], "\(path)")
    }
}
