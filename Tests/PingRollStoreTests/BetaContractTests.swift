import Testing
import PingRollCore
import PingRollService
@testable import PingRollStore

@Suite struct BetaContractTests {
    @Test(arguments: Backend.available)
    func savedCohortFiltersComeBackExactlyWhateverTheyHold(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        let filter = [("phase", "wave\t1\nnext"), ("installation_type", "100%09 %0A%%"), ("status", "enrolled")]
        try store.saveCohort(program: "p", name: "c", filter: filter)
        let loaded = try #require(try store.cohort(program: "p", name: "c"))
        #expect(loaded.map { "\($0.0)=\($0.1)" } == filter.map { "\($0.0)=\($0.1)" })
        // The form earlier versions wrote still loads.
        _ = try db.sql("UPDATE beta_cohorts SET filter = 'status\tenrolled\nphase\twave-1' WHERE name = 'c'")
        #expect(try store.cohort(program: "p", name: "c")?.map { "\($0.0)=\($0.1)" } == ["status=enrolled", "phase=wave-1"])
    }

    /// A token row with a role this binary does not know is reported, and grants nothing.
    @Test(arguments: Backend.available)
    func aTokenWithAnUnknownRoleIsReportedAndGrantsNothing(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let token = try store.createToken(name: "t", role: .admin)
        try db.sql("UPDATE api_tokens SET role = 'root'")
        #expect(try store.authenticate(token) == nil)
        do {
            _ = try store.tokens()
            Issue.record("an unknown role was listed as something")
        } catch {
            #expect(error.kind == .corrupt && error.reason.contains("unknown role root"), "\(error)")
        }
    }

    /// Rows are read by column name; a damaged value is an error that says what, never a default.
    @Test(arguments: Backend.available)
    func aDamagedEnrollmentRowIsAnErrorNotADefault(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: []))
        let id = try store.createEnrollment(Enrollment(program: "p", organization: "Org", contactName: "Ann", contactEmail: "ann@x.example"), by: "t")
        #expect(try store.enrollment(id: id)?.status == .interested)
        try db.sql("UPDATE beta_enrollments SET status = 'bogus'")
        do {
            _ = try store.enrollment(id: id)
            Issue.record("a bogus status was read as something")
        } catch {
            #expect(error.kind == .corrupt && error.reason.contains("unknown status bogus"), "\(error)")
        }
    }

    @Test(arguments: Backend.available)
    func programsEnrollmentsHistoryFeedbackAndCohortsOnEveryBackend(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try store.createProgram(BetaProgram(slug: "p", name: "P", description: nil, phases: ["a", "b"]))
        #expect(throws: StorageError.self) { try store.createProgram(BetaProgram(slug: "p", name: "again", description: nil, phases: [])) }
        #expect(try store.program(slug: "p")?.phases == ["a", "b"])
        var x = Enrollment(program: "p", organization: "Org", contactName: "Ann", contactEmail: "ann@x.example")
        _ = try x.apply(["status": .text("interested"), "registry_size_bytes": .text("1GB"), "backup_taken": .bool(true)], creating: true)
        x.createdAt = .now(); x.updatedAt = x.createdAt
        let id = try store.createEnrollment(x, by: "t1")
        let moved = try store.updateEnrollment(id: id, by: "t2") { e throws(EnrollmentError) in try e.apply(["status": .text("enrolled")]) }
        #expect(try moved?.get().status == .enrolled)
        let refused = try store.updateEnrollment(id: id, by: "t2") { e throws(EnrollmentError) in try e.apply(["status": .text("migrated")]) }
        #expect((try? refused?.get()) == nil)
        let stored = try #require(try store.enrollment(id: id))
        #expect(stored.status == .enrolled && stored.registrySizeBytes == 1_000_000_000 && stored.backupTaken == true)
        let history = try store.enrollmentHistory(id: id)
        #expect(history.last?.field == "status" && history.last?.old == "interested" && history.last?.new == "enrolled" && history.last?.tokenName == "t2")
        _ = try store.addFeedback(Feedback(enrollmentID: id, program: "p", category: "docs", rating: 5, text: "clear", issueURL: nil, at: .now(), tokenName: "t2"))
        #expect(try store.feedback(program: "p").map(\.rating) == [5])
        try store.saveCohort(program: "p", name: "c", filter: [("status", "enrolled,importing")])
        try store.saveCohort(program: "p", name: "c", filter: [("status", "enrolled")])
        #expect(try store.cohort(program: "p", name: "c")?.map { "\($0.0)=\($0.1)" } == ["status=enrolled"])
        let export = BetaOperations.CohortExport(store: store, program: "p", filter: try CohortFilter.parse([("status", "enrolled")]), format: .csv)
        var csv = ""
        while let piece = export.next() { csv += String(decoding: piece, as: UTF8.self) }
        #expect(export.rows == 1 && csv.contains("ann@x.example"))
    }
}
