import PingRollCore
import PingRollStore

/// The beta program: programs, enrollments with their history, feedback, migration runs,
/// cohorts, imports and analytics.
public final class BetaService: Sendable {
    let store: any PingStore

    init(store: any PingStore) { self.store = store }

    public func programs() throws(StorageError) -> [BetaProgram] { try store.programs() }
    public func program(slug: String) throws(StorageError) -> BetaProgram? { try store.program(slug: slug) }
    /// A slug that exists is a `.constraint` error.
    public func createProgram(_ p: BetaProgram) throws(StorageError) { try store.createProgram(p) }

    public func enrollment(id: Int64) throws(StorageError) -> Enrollment? { try store.enrollment(id: id) }
    public func createEnrollment(_ x: Enrollment, by token: String) throws(StorageError) -> Int64 { try store.createEnrollment(x, by: token) }
    /// Applies `change` in one transaction; nil when there is no such enrollment.
    public func updateEnrollment(id: Int64, by token: String,
                                 _ change: @Sendable (inout Enrollment) throws(EnrollmentError) -> [(field: String, old: String?, new: String?)])
        throws(StorageError) -> Result<Enrollment, EnrollmentError>? {
        try store.updateEnrollment(id: id, by: token, change)
    }
    public func enrollmentHistory(id: Int64) throws(StorageError) -> [HistoryEntry] { try store.enrollmentHistory(id: id) }

    /// An enrollment with its installation's live facts, read now (never copied). One ping read.
    public func enrollmentBody(_ x: Enrollment) throws(StorageError) -> EnrollmentBody {
        EnrollmentBody(x, facts: try BetaOperations.liveFacts(store, x))
    }

    /// Every enrollment of the program with live facts: pages of 1,000, one ping read each.
    public func enrollmentList(program: String) throws(StorageError) -> EnrollmentListBody {
        var members: [EnrollmentBody] = []
        try BetaOperations.forEachEnrollment(store, program) { x throws(StorageError) in members.append(try enrollmentBody(x)) }
        return EnrollmentListBody(members)
    }

    public func feedback(program: String) throws(StorageError) -> [Feedback] { try store.feedback(program: program) }
    public func addFeedback(_ f: Feedback) throws(StorageError) -> Int64 { try store.addFeedback(f) }

    public func saveCohort(program: String, name: String, filter: [(String, String)]) throws(StorageError) {
        try store.saveCohort(program: program, name: name, filter: filter)
    }
    public func cohort(program: String, name: String) throws(StorageError) -> [(String, String)]? { try store.cohort(program: program, name: name) }

    /// A streamed export of the cohort (a page of enrollments in memory at a time).
    public func cohortExport(program: String, filter: CohortFilter, format: BetaOperations.Format) -> BetaOperations.CohortExport {
        BetaOperations.CohortExport(store: store, program: program, filter: filter, format: format)
    }

    public func runs(enrollmentID: Int64) throws(StorageError) -> [MigrationRun] { try store.runs(enrollmentID: enrollmentID) }
    public func createRuns(_ runs: [MigrationRun], enrollmentID: Int64, program: String, by token: String) throws(StorageError) -> [MigrationRun] {
        try store.createRuns(runs, enrollmentID: enrollmentID, program: program, by: token)
    }
    /// Applies `change` to run `id` in one transaction; nil when the enrollment has no such run.
    public func updateRun(id: Int64, enrollmentID: Int64, by token: String,
                          _ change: @Sendable (MigrationRun) throws(FieldError) -> MigrationRun) throws(StorageError) -> Result<MigrationRun, FieldError>? {
        try store.updateRun(id: id, enrollmentID: enrollmentID, by: token, change)
    }

    /// Aggregates without personal data (see `BetaAnalytics.summary`).
    public func summary(_ program: BetaProgram, maskFreeText: Bool) throws(StorageError) -> BetaAnalytics.Summary {
        try BetaAnalytics.summary(store, program: program, maskFreeText: maskFreeText)
    }

    /// See `BetaAnalytics.analytics`: the program's enrollments, runs and feedback, read once.
    public func analytics(_ program: BetaProgram, fromDay: Int64, toDay: Int64, interval: PeriodKind, stuckAfterDays: Int,
                          maskFreeText: Bool) throws(StorageError) -> AnalyticsBody {
        let result = try BetaAnalytics.analytics(store, program: program, fromDay: fromDay, toDay: toDay, interval: interval,
                                                 stuckAfterDays: stuckAfterDays, now: .now(), maskFreeText: maskFreeText)
        return AnalyticsBody(program: program.slug, fromDay: fromDay, toDay: toDay, interval: interval, stuckAfterDays: stuckAfterDays, result)
    }

    /// See `BetaAnalytics.timeline`: at most `SeriesQuery.maxPeriods` periods.
    public func timeline(_ program: BetaProgram, interval: PeriodKind, starts: [Int64]) throws(StorageError) -> BetaAnalytics.Timeline {
        try BetaAnalytics.timeline(store, program: program, interval: interval, starts: starts)
    }

    /// An enrollment import for the job lane.
    public func importWork(program: String, csv: String, partial: Bool, by token: String) -> Jobs.Work {
        JobWork.importEnrollments(store, program: program, csv: csv, partial: partial, by: token)
    }

    /// Storing runs made from registry statistics, for the job lane.
    public func registryRunsWork(_ runs: [MigrationRun], enrollmentID: Int64, program: String, by token: String) -> Jobs.Work {
        JobWork.registryRuns(store, runs: runs, enrollmentID: enrollmentID, program: program, by: token)
    }
}
