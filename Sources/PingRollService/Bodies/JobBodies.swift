import PingRollCore

/// A job as `GET /api/v1/jobs/{id}` (and every route that starts one, with 202) shows it.
public struct JobBody: Encodable, Sendable {
    public struct Progress: Encodable, Sendable {
        var done: Int64
        @Nullable var total: Int64?
    }

    var id: Int64
    var kind: String
    var state: String
    var subject: String
    var createdBy: String
    var progress: Progress
    var createdAt: String
    @Nullable var startedAt: String?
    @Nullable var finishedAt: String?
    /// The status the synchronous route answered with, and its body.
    @Nullable var resultStatus: Int?
    @Nullable var result: JSONTree?
    @Nullable var error: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, state, subject, progress, result, error
        case createdBy = "created_by", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case resultStatus = "result_status"
    }

    public init(_ job: Job) {
        id = job.id
        kind = job.kind.rawValue
        state = job.state.rawValue
        subject = job.subject
        createdBy = job.createdBy
        progress = Progress(done: job.done, total: job.total)
        createdAt = job.createdAt.description
        startedAt = job.startedAt?.description
        finishedAt = job.finishedAt?.description
        resultStatus = job.resultStatus
        result = job.result.flatMap { try? JSONTree.parse(Array($0.utf8)) }
        error = job.error
    }

    /// Where the job is read: the `Location` of a 202.
    public static func location(_ job: Job) -> String { "/api/v1/jobs/\(job.id)" }
}

public struct JobListBody: Encodable, Sendable {
    var jobs: [JobBody]
    public init(_ jobs: [Job]) { self.jobs = jobs.map(JobBody.init) }
}
