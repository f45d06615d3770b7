/// What a job does: the long operations that run on the job lane, never on a request's thread.
public enum JobKind: String, Sendable, CaseIterable, Codable {
    case enrollmentsImport = "enrollments_import"
    case registryStatistics = "registry_statistics"
    case retention
    case rollupRebuild = "rollup_rebuild"

    /// The role that may start a job of this kind (and so see it, and cancel it).
    public var role: Role {
        switch self {
        case .enrollmentsImport, .registryStatistics: .pm
        case .retention, .rollupRebuild: .admin
        }
    }
}

public enum JobState: String, Sendable, CaseIterable, Codable {
    case queued, running, succeeded, failed, cancelled

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// A job as stored: what it is, how far it got, and (once finished) the answer the synchronous
/// route used to give (`resultStatus` and `result`, a JSON document) or why it failed.
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var kind: JobKind
    public var state: JobState
    /// Who started it (a token's name, or `cli`).
    public var createdBy: String
    /// What it works on, in the kind's own terms: a program's slug and enrollment, a metric, "".
    public var subject: String
    public var done: Int64
    public var total: Int64?
    public var createdAt: Timestamp
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var resultStatus: Int?
    public var result: String?
    public var error: String?

    public init(id: Int64 = 0, kind: JobKind, state: JobState = .queued, createdBy: String, subject: String, done: Int64 = 0,
                total: Int64? = nil, createdAt: Timestamp, startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil,
                resultStatus: Int? = nil, result: String? = nil, error: String? = nil) {
        self.id = id
        self.kind = kind
        self.state = state
        self.createdBy = createdBy
        self.subject = subject
        self.done = done
        self.total = total
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.resultStatus = resultStatus
        self.result = result
        self.error = error
    }
}
