import PingRollCore


/// What a retention run removed (or, dry, would remove).
public struct RetentionReport: Sendable, Equatable {
    public var dryRun: Bool
    public var policy: RetentionPolicy
    /// Pings recorded before this instant lose their payloads (nil: payloads kept).
    public var payloadCutoff: Timestamp?
    /// Reports received before this instant are deleted (nil: reports kept).
    public var reportCutoff: Timestamp?
    /// Pings whose payload went (or would go).
    public var payloads: Int64 = 0
    /// Their stored (compressed) payload bytes.
    public var payloadBytes: Int64 = 0
    /// PostgreSQL: the monthly partitions whose payloads went by replacing the whole partition.
    public var partitions: [String] = []
    public var quarantineEntries: Int64 = 0
    /// Stored bytes of those quarantine entries, as the quarantine's cap counts them.
    public var quarantineBytes: Int64 = 0
    public var metadataReports: Int64 = 0
    public var errorReports: Int64 = 0

    public init(dryRun: Bool, policy: RetentionPolicy, now: Timestamp) {
        self.dryRun = dryRun
        self.policy = policy
        payloadCutoff = RetentionPolicy.cutoff(policy.payloadDays, now: now).map(Timestamp.init(milliseconds:))
        reportCutoff = RetentionPolicy.cutoff(policy.reportDays, now: now).map(Timestamp.init(milliseconds:))
    }
}

/// A retention run as recorded (dry runs are not).
public struct RetentionRun: Sendable, Equatable {
    public var id: Int64
    public var startedAt: Timestamp
    public var finishedAt: Timestamp
    public var report: RetentionReport
}

/// Retention: dropping old raw payloads while the rollups stay exactly as they are, and pruning
/// old quarantine entries and client reports.
public protocol RetentionStoring: AnyObject, Sendable {
    /// Applies `policy` as of `now`, in short write transactions of at most `batch` rows, so a
    /// serving pingroll keeps storing pings between them; idempotent. A dry run changes
    /// nothing and reports what would go. `progress` gets the figures so far after each
    /// transaction.
    func applyRetention(_ policy: RetentionPolicy, now: Timestamp, dryRun: Bool, batch: Int,
                        progress: (@Sendable (RetentionReport) -> Void)?) throws(StorageError) -> RetentionReport

    /// The newest recorded runs, newest first.
    func retentionRuns(limit: Int) throws(StorageError) -> [RetentionRun]
}

/// What a backend adds to the shared retention code.
protocol RetentionHost: SQLBackedStore {
    /// Drops the payloads of whole partitions that lie entirely before `cutoff` by replacing
    /// them (PostgreSQL); returns the instant before which every ping lies in such a partition
    /// (nil: none; SQLite has no partitions).
    func retirePartitions(before cutoff: Int64, dryRun: Bool, into report: inout RetentionReport) throws(StorageError) -> Int64?
}

extension RetentionHost {
    public func applyRetention(_ policy: RetentionPolicy, now: Timestamp, dryRun: Bool, batch: Int,
                               progress: (@Sendable (RetentionReport) -> Void)?) throws(StorageError) -> RetentionReport {
        let op = "applying retention"
        if let problem = policy.problem { throw StorageError(.other, operation: op, reason: problem) }
        // Transactions of about 100 ms each, of at most `batch` rows.
        var pacing = WriterPacing(initial: 64, maxSize: max(1, min(batch, 100_000)), contended: otherWritersActive)
        var report = RetentionReport(dryRun: dryRun, policy: policy, now: now)
        if let cutoff = report.payloadCutoff?.milliseconds {
            // What whole partitions held is done; the rest goes row by row.
            let covered = try retirePartitions(before: cutoff, dryRun: dryRun, into: &report) ?? Int64.min
            progress?(report)
            if dryRun {
                let (count, bytes) = try read { e throws(StorageError) in
                    try RetentionSQL.countAndBytes(e, "FROM pings WHERE recorded_at >= $1 AND recorded_at < $2 AND payload_encoding <> $3",
                                                   bytes: "length(payload)", [.integer(covered), .integer(cutoff), .text(CompressedPayload.dropped)])
                }
                report.payloads += count
                report.payloadBytes += bytes
            } else {
                var position = (recordedAt: covered, id: Int64.min)
                while true {
                    let step = try pacing.step { size throws(StorageError) in
                        let step = try writeTransaction(op) { e throws(StorageError) in
                            try RetentionSQL.dropPayloads(e, before: cutoff, after: position, limit: Int64(size))
                        }
                        return (step, Int(clamping: step.count))
                    }
                    guard let last = step.last else { break }
                    position = last
                    report.payloads += step.count
                    report.payloadBytes += step.bytes
                    progress?(report)
                }
            }
        }
        if let cutoff = report.reportCutoff?.milliseconds {
            if dryRun {
                let counts = try read { e throws(StorageError) in
                    let q = try RetentionSQL.countAndBytes(e, "FROM quarantine WHERE received_at < $1", bytes: "stored_size", [.integer(cutoff)])
                    let m = try RetentionSQL.countAndBytes(e, "FROM ping_metadata WHERE received_at < $1", bytes: nil, [.integer(cutoff)])
                    let x = try RetentionSQL.countAndBytes(e, "FROM ping_errors WHERE received_at < $1", bytes: nil, [.integer(cutoff)])
                    return [q.0, q.1, m.0, x.0]
                }
                report.quarantineEntries += counts[0]
                report.quarantineBytes += counts[1]
                report.metadataReports += counts[2]
                report.errorReports += counts[3]
            } else {
                for table in RetentionSQL.ReportTable.allCases {
                    while true {
                        let step = try pacing.step { size throws(StorageError) in
                            let step = try writeTransaction(op) { e throws(StorageError) in
                                try RetentionSQL.deleteReports(e, table, before: cutoff, limit: Int64(size))
                            }
                            return (step, Int(clamping: step.count))
                        }
                        guard step.count > 0 else { break }
                        switch table {
                        case .quarantine:
                            report.quarantineEntries += step.count
                            report.quarantineBytes += step.bytes
                        case .metadata: report.metadataReports += step.count
                        case .errors: report.errorReports += step.count
                        }
                        progress?(report)
                    }
                }
            }
        }
        if !dryRun {
            let finished = Timestamp.now()
            try writeTransaction("recording a retention run") { e throws(StorageError) in
                try RetentionSQL.record(e, report, startedAt: now, finishedAt: finished)
                if report.payloads > 0, let cutoff = report.payloadCutoff {
                    try AnnotationSQL.record(e, Annotation(at: finished, kind: .retention,
                                                           text: "retention dropped the raw payloads of \(report.payloads) pings recorded before \(isoDate(days: cutoff.milliseconds / 86_400_000))",
                                                           metric: nil), key: "retention:\(now.milliseconds)")
                }
            }
        }
        return report
    }

    public func retentionRuns(limit: Int) throws(StorageError) -> [RetentionRun] {
        try read { e throws(StorageError) in try RetentionSQL.runs(e, limit: limit) }
    }
}

enum RetentionSQL {
    static func countAndBytes(_ e: any SQLExecutor, _ from: String, bytes: String?, _ parameters: [SQLValue]) throws(StorageError) -> (Int64, Int64) {
        let columns = ColumnList([("rows", "COUNT(*)"), ("bytes", bytes.map { "CAST(COALESCE(SUM(\($0)), 0) AS BIGINT)" } ?? "0")])
        guard let row = try columns.select(e, from, parameters, operation: "measuring what retention removes").first else { return (0, 0) }
        return (try row.int64("rows") ?? 0, try row.int64("bytes") ?? 0)
    }

    /// The next `limit` pings recorded before `cutoff` (after `position` in `(recorded_at, id)`
    /// order) that still have a payload lose it: an empty payload marked `dropped`.
    static func dropPayloads(_ e: any SQLExecutor, before cutoff: Int64, after position: (recordedAt: Int64, id: Int64),
                             limit: Int64) throws(StorageError) -> (count: Int64, bytes: Int64, last: (recordedAt: Int64, id: Int64)?) {
        let op = "dropping old payloads"
        let rows = try ColumnList([("id", "id"), ("recorded_at", "recorded_at"), ("bytes", "length(payload)")]).select(e, """
            FROM pings WHERE recorded_at < $1 AND payload_encoding <> $2 AND (recorded_at, id) > ($3, $4)
            ORDER BY recorded_at, id LIMIT $5
            """, [.integer(cutoff), .text(CompressedPayload.dropped), .integer(position.recordedAt), .integer(position.id), .integer(limit)], operation: op)
        guard let lastRow = rows.last, let firstRow = rows.first else { return (0, 0, nil) }
        let lastAt = try lastRow.requiredInt64("recorded_at"), lastID = try lastRow.requiredInt64("id")
        let firstAt = try firstRow.requiredInt64("recorded_at")
        var ids: [Int64] = []
        var bytes: Int64 = 0
        for row in rows {
            ids.append(try row.requiredInt64("id"))
            bytes &+= try row.int64("bytes") ?? 0
        }
        let list = ids.indices.map { "$\($0 + 5)" }.joined(separator: ", ")
        // The recorded_at bounds let PostgreSQL look in the batch's partitions only.
        let changed = try e.query("""
            UPDATE pings SET payload = $1, payload_encoding = $2, shape_id = NULL
            WHERE recorded_at >= $3 AND recorded_at <= $4 AND payload_encoding <> $2 AND id IN (\(list))
            RETURNING id
            """, [.blob([]), .text(CompressedPayload.dropped), .integer(firstAt), .integer(lastAt)] + ids.map { .integer($0) }, operation: op)
        return (Int64(changed.count), bytes, (lastAt, lastID))
    }

    enum ReportTable: CaseIterable {
        case quarantine, metadata, errors

        var name: String {
            switch self {
            case .quarantine: "quarantine"
            case .metadata: "ping_metadata"
            case .errors: "ping_errors"
            }
        }
    }

    /// Deletes the oldest `limit` rows of `table` received before `cutoff`; the quarantine's
    /// stored-bytes total goes down by theirs.
    static func deleteReports(_ e: any SQLExecutor, _ table: ReportTable, before cutoff: Int64, limit: Int64) throws(StorageError) -> (count: Int64, bytes: Int64) {
        let op = "pruning old \(table.name) rows"
        let size = table == .quarantine ? "stored_size" : "0"
        let rows = try ColumnList([("id", "id"), ("bytes", size)]).select(e, "FROM \(table.name) WHERE received_at < $1 ORDER BY received_at, id LIMIT $2",
                                                                          [.integer(cutoff), .integer(limit)], operation: op)
        guard !rows.isEmpty else { return (0, 0) }
        var ids: [Int64] = []
        var bytes: Int64 = 0
        for row in rows {
            ids.append(try row.requiredInt64("id"))
            bytes &+= try row.int64("bytes") ?? 0
        }
        let list = ids.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let deleted = try e.query("DELETE FROM \(table.name) WHERE id IN (\(list)) RETURNING id", ids.map { .integer($0) }, operation: op)
        if table == .metadata {
            try e.query("DELETE FROM metadata_metrics WHERE report_id IN (\(list))", ids.map { .integer($0) }, operation: op)
        }
        if table == .quarantine {
            try e.query("UPDATE quarantine_totals SET stored_bytes = stored_bytes - $1 WHERE id = 1", [.integer(bytes)], operation: op)
        }
        return (Int64(deleted.count), bytes)
    }

    static let runColumns = ColumnList(["id", "started_at", "finished_at", "payload_days", "report_days", "payloads", "payload_bytes", "partitions",
                                        "quarantine_entries", "quarantine_bytes", "metadata_reports", "error_reports"])

    static func record(_ e: any SQLExecutor, _ r: RetentionReport, startedAt: Timestamp, finishedAt: Timestamp) throws(StorageError) {
        let optional: (Int?) -> SQLValue = { $0.map { .integer(Int64($0)) } ?? .null }
        try e.query("""
            INSERT INTO retention_runs (started_at, finished_at, payload_days, report_days, payloads, payload_bytes, partitions,
                                        quarantine_entries, quarantine_bytes, metadata_reports, error_reports)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """, [.integer(startedAt.milliseconds), .integer(finishedAt.milliseconds), optional(r.policy.payloadDays), optional(r.policy.reportDays),
                  .integer(r.payloads), .integer(r.payloadBytes), .text(r.partitions.joined(separator: ",")),
                  .integer(r.quarantineEntries), .integer(r.quarantineBytes), .integer(r.metadataReports), .integer(r.errorReports)],
            operation: "recording a retention run")
    }

    static func runs(_ e: any SQLExecutor, limit: Int) throws(StorageError) -> [RetentionRun] {
        let op = "reading retention runs"
        return try runColumns.select(e, "FROM retention_runs ORDER BY id DESC LIMIT $1", [.integer(Int64(max(1, limit)))], operation: op).map { r throws(StorageError) in
            let started = Timestamp(milliseconds: try r.requiredInt64("started_at"))
            let policy = RetentionPolicy(payloadDays: try r.int64("payload_days").map { Int(clamping: $0) },
                                         reportDays: try r.int64("report_days").map { Int(clamping: $0) })
            var report = RetentionReport(dryRun: false, policy: policy, now: started)
            report.payloads = try r.requiredInt64("payloads")
            report.payloadBytes = try r.requiredInt64("payload_bytes")
            report.partitions = try r.requiredString("partitions").split(separator: ",").map(String.init)
            report.quarantineEntries = try r.requiredInt64("quarantine_entries")
            report.quarantineBytes = try r.requiredInt64("quarantine_bytes")
            report.metadataReports = try r.requiredInt64("metadata_reports")
            report.errorReports = try r.requiredInt64("error_reports")
            return RetentionRun(id: try r.requiredInt64("id"), startedAt: started,
                                finishedAt: Timestamp(milliseconds: try r.requiredInt64("finished_at")), report: report)
        }
    }
}
