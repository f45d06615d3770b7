import PingRollCore

/// Where jobs are kept. Every method is one short transaction (or a read); implementations
/// must keep a job's row consistent (a finished job never changes again) and order jobs by id.
public protocol JobStoring: AnyObject, Sendable {
    /// Stores `job` as queued and answers it with its id.
    func createJob(_ job: Job) throws(StorageError) -> Job
    /// Marks a queued job running (nil when it is no longer queued: cancelled meanwhile).
    func startJob(id: Int64, at: Timestamp) throws(StorageError) -> Job?
    /// Records progress of a running job.
    func updateJobProgress(id: Int64, done: Int64, total: Int64?) throws(StorageError)
    /// Finishes a queued or running job with `state`; nil when it had already finished.
    func finishJob(id: Int64, state: JobState, at: Timestamp, resultStatus: Int?, result: String?,
                   error: String?) throws(StorageError) -> Job?
    /// The job with this id, or nil.
    func job(id: Int64) throws(StorageError) -> Job?
    /// The newest `limit` jobs of `kinds`, newest first.
    func jobs(kinds: Set<JobKind>, limit: Int) throws(StorageError) -> [Job]
    /// After a restart: every job left queued or running, oldest first (their process is gone).
    func unfinishedJobs() throws(StorageError) -> [Job]
    /// Puts a job left running by an earlier process back in the queue (a rebuild, which resumes).
    func requeueJob(id: Int64) throws(StorageError)
}

enum JobSQL {
    static let columns = ColumnList(["id", "kind", "state", "created_by", "subject", "progress_done", "progress_total", "created_at",
                                     "started_at", "finished_at", "result_status", "result", "error"])

    static func job(_ r: NamedRow) throws(StorageError) -> Job {
        let kindText = try r.requiredString("kind"), stateText = try r.requiredString("state")
        guard let kind = JobKind(rawValue: kindText), let state = JobState(rawValue: stateText) else {
            throw StorageError(.corrupt, operation: r.operation, reason: "a job has the unknown kind or state \(kindText)/\(stateText)")
        }
        return Job(id: try r.requiredInt64("id"), kind: kind, state: state, createdBy: try r.requiredString("created_by"),
                   subject: try r.requiredString("subject"), done: try r.requiredInt64("progress_done"), total: try r.int64("progress_total"),
                   createdAt: Timestamp(milliseconds: try r.requiredInt64("created_at")),
                   startedAt: try r.int64("started_at").map(Timestamp.init(milliseconds:)),
                   finishedAt: try r.int64("finished_at").map(Timestamp.init(milliseconds:)),
                   resultStatus: try r.int64("result_status").map { Int(clamping: $0) }, result: try r.string("result"), error: try r.string("error"))
    }

    static func load(_ e: any SQLExecutor, id: Int64, _ op: String) throws(StorageError) -> Job? {
        try columns.select(e, "FROM jobs WHERE id = $1", [.integer(id)], operation: op).first.map { r throws(StorageError) in try job(r) }
    }
}

extension SQLBackedStore {
    public func createJob(_ job: Job) throws(StorageError) -> Job {
        let op = "creating a job"
        return try writeTransaction(op) { e throws(StorageError) in
            var stored = job
            stored.state = .queued
            stored.id = try e.scalarInt64("""
                INSERT INTO jobs (kind, state, created_by, subject, progress_done, progress_total, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
                """, [.text(job.kind.rawValue), .text(JobState.queued.rawValue), .text(job.createdBy), .text(job.subject),
                      .integer(job.done), SQLValue(job.total), .integer(job.createdAt.milliseconds)], operation: op)
            return stored
        }
    }

    public func startJob(id: Int64, at: Timestamp) throws(StorageError) -> Job? {
        let op = "starting a job"
        return try writeTransaction(op) { e throws(StorageError) -> Job? in
            try e.query("UPDATE jobs SET state = $2, started_at = $3 WHERE id = $1 AND state = $4",
                        [.integer(id), .text(JobState.running.rawValue), .integer(at.milliseconds), .text(JobState.queued.rawValue)], operation: op)
            guard let job = try JobSQL.load(e, id: id, op), job.state == .running else { return nil }
            return job
        }
    }

    public func updateJobProgress(id: Int64, done: Int64, total: Int64?) throws(StorageError) {
        let op = "recording a job's progress"
        try writeTransaction(op) { e throws(StorageError) in
            try e.query("UPDATE jobs SET progress_done = $2, progress_total = $3 WHERE id = $1 AND state = $4",
                        [.integer(id), .integer(done), SQLValue(total), .text(JobState.running.rawValue)], operation: op)
        }
    }

    public func finishJob(id: Int64, state: JobState, at: Timestamp, resultStatus: Int?, result: String?,
                          error: String?) throws(StorageError) -> Job? {
        let op = "finishing a job"
        return try writeTransaction(op) { e throws(StorageError) -> Job? in
            guard let current = try JobSQL.load(e, id: id, op), !current.state.isFinished else { return nil }
            try e.query("""
                UPDATE jobs SET state = $2, finished_at = $3, result_status = $4, result = $5, error = $6 WHERE id = $1
                """, [.integer(id), .text(state.rawValue), .integer(at.milliseconds), SQLValue(resultStatus.map(Int64.init)), SQLValue(result),
                      SQLValue(error)], operation: op)
            return try JobSQL.load(e, id: id, op)
        }
    }

    public func job(id: Int64) throws(StorageError) -> Job? {
        try read { e throws(StorageError) in try JobSQL.load(e, id: id, "reading a job") }
    }

    public func jobs(kinds: Set<JobKind>, limit: Int) throws(StorageError) -> [Job] {
        guard !kinds.isEmpty else { return [] }
        let op = "listing jobs"
        let list = kinds.sorted { $0.rawValue < $1.rawValue }
        let placeholders = list.indices.map { "$\($0 + 2)" }.joined(separator: ", ")
        return try read { e throws(StorageError) in
            try JobSQL.columns.select(e, "FROM jobs WHERE kind IN (\(placeholders)) ORDER BY id DESC LIMIT $1",
                                      [.integer(Int64(max(1, limit)))] + list.map { .text($0.rawValue) }, operation: op)
                .map { r throws(StorageError) in try JobSQL.job(r) }
        }
    }

    public func unfinishedJobs() throws(StorageError) -> [Job] {
        try read { e throws(StorageError) in
            try JobSQL.columns.select(e, "FROM jobs WHERE state IN ($1, $2) ORDER BY id",
                                      [.text(JobState.queued.rawValue), .text(JobState.running.rawValue)], operation: "listing unfinished jobs")
                .map { r throws(StorageError) in try JobSQL.job(r) }
        }
    }

    public func requeueJob(id: Int64) throws(StorageError) {
        let op = "requeueing a job"
        try writeTransaction(op) { e throws(StorageError) in
            try e.query("UPDATE jobs SET state = $2 WHERE id = $1 AND state = $3",
                        [.integer(id), .text(JobState.queued.rawValue), .text(JobState.running.rawValue)], operation: op)
        }
    }
}
