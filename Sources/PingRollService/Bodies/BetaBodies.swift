import PingRollCore
import PingRollStore

/// A beta program as the API shows it.
public struct ProgramBody: Encodable, Sendable {
    public var slug: String
    public var name: String
    @Nullable public var description: String?
    public var phases: [String]
    public var createdAt: String

    public init(_ p: BetaProgram) {
        slug = p.slug; name = p.name; description = p.description; phases = p.phases; createdAt = p.createdAt.description
    }

    enum CodingKeys: String, CodingKey { case slug, name, description, phases, createdAt = "created_at" }
}

/// `GET /api/v1/beta/programs`.
public struct ProgramListBody: Encodable, Sendable {
    public var programs: [ProgramBody]
    public init(_ programs: [BetaProgram]) { self.programs = programs.map(ProgramBody.init) }
}

/// An enrollment with its live `installation` facts (null without a uuid; every fact null when
/// the installation has sent no ping yet). Members are the `EnrollmentField`s plus the record's own.
public struct EnrollmentBody: Encodable, Sendable {
    /// The facts of the installation's latest ping, read at request time.
    public struct Installation: Encodable, Sendable {
        @Nullable public var lastPingAt: String?
        @Nullable public var version: String?
        @Nullable public var edition: String?
        @Nullable public var registryEnabled: Bool?
        @Nullable public var dbEnabled: Bool?

        init(_ r: InstallationRecord?) {
            lastPingAt = r?.lastRecordedAt?.description; version = r?.version; edition = r?.edition
            registryEnabled = r?.registryEnabled; dbEnabled = r?.dbEnabled
        }

        enum CodingKeys: String, CodingKey {
            case lastPingAt = "last_ping_at", version, edition, registryEnabled = "registry_enabled", dbEnabled = "db_enabled"
        }
    }

    public var enrollment: Enrollment
    public var installation: Installation?

    public init(_ x: Enrollment, facts: InstallationRecord?) {
        enrollment = x
        installation = x.uuid == nil ? nil : Installation(facts)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: MemberKey.self)
        try c.encode(enrollment.id, forKey: MemberKey("id"))
        try c.encode(enrollment.program, forKey: MemberKey("program"))
        for field in EnrollmentField.allCases { try c.encode(enrollment.value(of: field), forKey: MemberKey(field.rawValue)) }
        try c.encode(enrollment.createdAt.description, forKey: MemberKey("created_at"))
        try c.encode(enrollment.updatedAt.description, forKey: MemberKey("updated_at"))
        try c.encode(installation, forKey: MemberKey("installation"))
        try c.encode(enrollment.status.allowedNext(blockedFrom: enrollment.blockedFrom).map(\.rawValue), forKey: MemberKey("allowed_next"))
    }
}

/// `GET .../enrollments`.
public struct EnrollmentListBody: Encodable, Sendable {
    public var enrollments: [EnrollmentBody]
    public init(_ enrollments: [EnrollmentBody]) { self.enrollments = enrollments }
}

/// One change of an enrollment field.
public struct HistoryBody: Encodable, Sendable {
    public struct Entry: Encodable, Sendable {
        public var at: String
        public var token: String
        public var field: String
        @Nullable public var old: String?
        @Nullable public var new: String?
    }

    public var history: [Entry]

    public init(_ entries: [HistoryEntry]) {
        history = entries.map { Entry(at: $0.at.description, token: $0.tokenName, field: $0.field, old: $0.old, new: $0.new) }
    }
}

/// A feedback entry.
public struct FeedbackBody: Encodable, Sendable {
    public var id: Int64
    public var enrollmentID: Int64
    public var category: String
    public var rating: Int
    public var text: String
    @Nullable public var issueURL: String?
    public var at: String
    public var token: String

    public init(_ f: Feedback) {
        id = f.id; enrollmentID = f.enrollmentID; category = f.category; rating = f.rating; text = f.text
        issueURL = f.issueURL; at = f.at.description; token = f.tokenName
    }

    enum CodingKeys: String, CodingKey { case id, enrollmentID = "enrollment_id", category, rating, text, issueURL = "issue_url", at, token }
}

/// `GET .../feedback`.
public struct FeedbackListBody: Encodable, Sendable {
    public var feedback: [FeedbackBody]
    public init(_ feedback: [Feedback]) { self.feedback = feedback.map(FeedbackBody.init) }
}

/// `PUT .../cohorts/{name}`: the filter as saved (query parameter names and values).
public struct SavedCohortBody: Encodable, Sendable {
    public var program: String
    public var name: String
    public var filter: [String: String]

    public init(program: String, name: String, filter: CohortFilter) {
        self.program = program
        self.name = name
        self.filter = Dictionary(filter.queryText, uniquingKeysWith: { _, last in last })
    }
}

/// `POST .../enrollments/import`: what was applied, and every problem by row and column. When
/// invalid rows stopped the import, `error` says so and nothing was created or updated.
public struct ImportReportBody: Encodable, Sendable {
    public struct Problem: Encodable, Sendable {
        public var row: Int
        public var column: String
        public var reason: String
    }

    public var error: ErrorBody.Detail?
    public var created: Int
    public var updated: Int
    /// The first 100 problems; `problems` and `invalid_rows` count them all.
    public var errors: [Problem]
    public var problems: Int
    public var invalidRows: Int

    enum CodingKeys: String, CodingKey {
        case error, created, updated, errors, problems
        case invalidRows = "invalid_rows"
    }

    public init(_ report: BetaOperations.ImportReport) {
        created = report.created
        updated = report.updated
        errors = report.errors.map { Problem(row: $0.row, column: $0.column, reason: $0.reason) }
        problems = report.problemCount
        invalidRows = report.invalidRows
        if !report.applied {
            error = ErrorBody.Detail(code: "invalid_rows", message: "\(report.invalidSummary); nothing was applied (use partial=true to apply the valid rows)")
            created = 0
            updated = 0
        }
    }
}

/// A migration run in the API.
public struct MigrationRunBody: Encodable, Sendable {
    public struct Phase: Encodable, Sendable {
        var name: String
        @Nullable var startedAt: String?
        @Nullable var finishedAt: String?
        @Nullable var error: String?
        @Nullable var seconds: Double?
        enum CodingKeys: String, CodingKey { case name, startedAt = "started_at", finishedAt = "finished_at", error, seconds }
    }

    var id: Int64
    var enrollmentID: Int64
    var mode: String
    var startedAt: String
    @Nullable var finishedAt: String?
    var outcome: String
    var phases: [Phase]
    @Nullable var storageDriver: String?
    @Nullable var registrySizeBytes: Int64?
    @Nullable var repositories: Int64?
    @Nullable var tags: Int64?
    @Nullable var manifests: Int64?
    @Nullable var blobs: Int64?
    @Nullable var blobsSizeBytes: Int64?
    @Nullable var notes: String?
    @Nullable var issueURL: String?
    @Nullable var totalSeconds: Double?
    @Nullable var downtimeSeconds: Double?
    var registryImportIDs: [Int64]
    var createdAt: String
    var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, enrollmentID = "enrollment_id", mode, startedAt = "started_at", finishedAt = "finished_at", outcome, phases
        case storageDriver = "storage_driver", registrySizeBytes = "registry_size_bytes", repositories, tags, manifests, blobs
        case blobsSizeBytes = "blobs_size_bytes", notes, issueURL = "issue_url", totalSeconds = "total_seconds", downtimeSeconds = "downtime_seconds"
        case registryImportIDs = "registry_import_ids", createdAt = "created_at", updatedAt = "updated_at"
    }

    public init(_ r: MigrationRun) {
        id = r.id; enrollmentID = r.enrollmentID; mode = r.mode.rawValue; startedAt = r.startedAt.description
        finishedAt = r.finishedAt?.description; outcome = r.outcome.rawValue
        phases = r.phases.map { Phase(name: $0.name.rawValue, startedAt: $0.startedAt?.description, finishedAt: $0.finishedAt?.description,
                                      error: $0.error, seconds: $0.seconds) }
        storageDriver = r.storageDriver; registrySizeBytes = r.registrySizeBytes; repositories = r.repositories; tags = r.tags
        manifests = r.manifests; blobs = r.blobs; blobsSizeBytes = r.blobsSizeBytes; notes = r.notes; issueURL = r.issueURL
        totalSeconds = r.totalSeconds; downtimeSeconds = r.downtimeSeconds; registryImportIDs = r.registryImportIDs
        createdAt = r.createdAt.description; updatedAt = r.updatedAt.description
    }
}

/// A list of runs (`GET …/migrations`, and what `from-registry-statistics` stored).
public struct MigrationRunListBody: Encodable, Sendable {
    var runs: [MigrationRunBody]
    /// For an upload: runs already stored from the same registry import attempts, not added again.
    var skipped: Int?
    public init(_ runs: [MigrationRun], skipped: Int? = nil) {
        self.runs = runs.map(MigrationRunBody.init)
        self.skipped = skipped
    }
}

/// `GET /api/v1/beta/programs/{slug}/analytics` (viewer; no personal data).
public struct AnalyticsBody: Encodable, Sendable {
    struct Throughput: Encodable, Sendable {
        var storageDriver: String
        var sizeBucket: String
        var runs: Int, succeeded: Int, failed: Int, aborted: Int, running: Int
        @Nullable var durationP50Seconds: Double?
        @Nullable var durationMaxSeconds: Double?
        @Nullable var downtimeP50Seconds: Double?
        @Nullable var downtimeMaxSeconds: Double?
        @Nullable var bytesPerHourP50: Double?
        @Nullable var bytesPerHourMax: Double?
        enum CodingKeys: String, CodingKey {
            case storageDriver = "storage_driver", sizeBucket = "size_bucket", runs, succeeded, failed, aborted, running
            case durationP50Seconds = "duration_p50_seconds", durationMaxSeconds = "duration_max_seconds"
            case downtimeP50Seconds = "downtime_p50_seconds", downtimeMaxSeconds = "downtime_max_seconds"
            case bytesPerHourP50 = "bytes_per_hour_p50", bytesPerHourMax = "bytes_per_hour_max"
        }
    }
    struct Failure: Encodable, Sendable {
        var key: String
        var runs: Int
        var runIDs: [Int64]
        enum CodingKeys: String, CodingKey { case key, runs, runIDs = "run_ids" }
    }
    struct Stage: Encodable, Sendable {
        var status: String
        var reached: Int
        var current: Int
        @Nullable var daysP50: Double?
        @Nullable var daysP90: Double?
        enum CodingKeys: String, CodingKey { case status, reached, current, daysP50 = "days_p50", daysP90 = "days_p90" }
    }
    struct Stuck: Encodable, Sendable {
        var enrollmentID: Int64
        var status: String
        var since: String
        var days: Double
        enum CodingKeys: String, CodingKey { case enrollmentID = "enrollment_id", status, since, days }
    }
    struct Feedback: Encodable, Sendable {
        var category: String
        var period: String
        var count: Int
        var meanRating: Double
        enum CodingKeys: String, CodingKey { case category, period, count, meanRating = "mean_rating" }
    }
    struct Adoption: Encodable, Sendable {
        var byStatus: [String: Int]
        var enrolledOrFurther: Int
        var dbEnabled: Int
        enum CodingKeys: String, CodingKey { case byStatus = "by_status", enrolledOrFurther = "enrolled_or_further", dbEnabled = "db_enabled" }
    }

    var program: String
    var from: String
    var to: String
    var interval: String
    var stuckAfterDays: Int
    var throughput: [Throughput]
    var failuresByPhase: [Failure]
    var failuresByMessage: [Failure]
    var funnel: [Stage]
    var stuck: [Stuck]
    var feedback: [Feedback]
    var adoption: Adoption

    enum CodingKeys: String, CodingKey {
        case program, from, to, interval, stuckAfterDays = "stuck_after_days", throughput, failuresByPhase = "failures_by_phase"
        case failuresByMessage = "failures_by_message", funnel, stuck, feedback, adoption
    }

    public init(program: String, fromDay: Int64, toDay: Int64, interval: PeriodKind, stuckAfterDays: Int, _ a: BetaAnalytics.Analytics) {
        self.program = program
        from = isoDate(days: fromDay)
        to = isoDate(days: toDay)
        self.interval = interval.rawValue
        self.stuckAfterDays = stuckAfterDays
        throughput = a.throughput.map {
            Throughput(storageDriver: $0.storageDriver, sizeBucket: $0.sizeBucket, runs: $0.runs, succeeded: $0.succeeded, failed: $0.failed,
                       aborted: $0.aborted, running: $0.running, durationP50Seconds: $0.durationP50, durationMaxSeconds: $0.durationMax,
                       downtimeP50Seconds: $0.downtimeP50, downtimeMaxSeconds: $0.downtimeMax, bytesPerHourP50: $0.bytesPerHourP50,
                       bytesPerHourMax: $0.bytesPerHourMax)
        }
        failuresByPhase = a.failuresByPhase.map { Failure(key: $0.key, runs: $0.runs.count, runIDs: $0.runs) }
        failuresByMessage = a.failuresByMessage.map { Failure(key: $0.key, runs: $0.runs.count, runIDs: $0.runs) }
        funnel = a.funnel.map { Stage(status: $0.status, reached: $0.reached, current: $0.current, daysP50: $0.daysP50, daysP90: $0.daysP90) }
        stuck = a.stuck.map { Stuck(enrollmentID: $0.enrollment, status: $0.status, since: $0.since.description, days: $0.days) }
        feedback = a.feedback.map { Feedback(category: $0.category, period: $0.period, count: $0.count, meanRating: $0.meanRating) }
        adoption = Adoption(byStatus: a.enrollmentsByStatus, enrolledOrFurther: a.enrolledOrFurther, dbEnabled: a.dbEnabled)
    }
}
