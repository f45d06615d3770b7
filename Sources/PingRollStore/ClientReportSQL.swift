import PingRollCore

/// A metadata or error report as stored (`/usage_ping_metadata`, `/usage_ping_errors`).
public struct StoredClientReport: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Timestamp
    public var uuid: String?
    /// Error reports: the `version` and `message` the instance sent.
    public var version: String?
    public var message: String?
    /// The JSON body as posted; empty where a read leaves it out (an error report's body, a
    /// metadata report whose metrics are rows): bodies can be 8 MiB each.
    public var body: String
    /// A metadata report's metrics, when stored as rows.
    public var metricEntries: [MetadataEntries.Entry]? = nil
}

/// A metadata report as instrumentation health lists it: without its body.
public struct MetadataReportRef: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Timestamp
    public var uuid: String?
    /// Its metrics are stored as rows (`metadataMetricRows`); false for reports stored before
    /// pingroll did that, whose body must be read.
    public var folded: Bool
}

/// Reading the reports instances post about their own pings, for instrumentation health.
public protocol ClientReportReading: AnyObject, Sendable {
    /// Each uuid's latest metadata report received in `from..<to` (by received_at, then id), in
    /// id order after `after`, at most `limit`. Reports without a uuid are left out.
    func latestMetadataReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [MetadataReportRef]

    /// The metric rows of the given (folded) reports, by report id. Costs what the rows cost
    /// (at most `MetadataEntries.maxNames` per report), never what the reports' bytes cost.
    func metadataMetricRows(reportIDs: [Int64]) throws(StorageError) -> [Int64: [MetadataEntries.Entry]]

    /// A metadata report's body as posted (for a report stored before its metrics were rows).
    func metadataBody(id: Int64) throws(StorageError) -> String?

    /// Error reports received in `from..<to`, in id order after `after`, at most `limit`.
    func errorReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport]

    /// `major.minor` of the version of the uuid's latest ping (any hostname) recorded at or
    /// before `at`; nil when it has none or it named no version.
    func versionOf(uuid: String, at: Timestamp) throws(StorageError) -> (major: Int, minor: Int)?
}

enum ClientReportSQL {
    static let metadataColumns = ColumnList([("id", "m.id"), ("received_at", "m.received_at"), ("uuid", "m.uuid"), ("folded", "m.folded")])
    static let metricRowColumns = ColumnList(["report_id", "name", "failed", "elapsed"])
    /// An error report's fields, without its body (nothing that lists them shows it).
    static let errorColumns = ColumnList([("id", "id"), ("received_at", "received_at"), ("uuid", "uuid"), ("version", "version"),
                                          ("message", "message"), ("body", "''")])

    static func latestMetadata(_ e: any SQLExecutor, from: Int64, to: Int64, after: Int64, limit: Int) throws(StorageError) -> [MetadataReportRef] {
        try metadataColumns.select(e, """
            FROM ping_metadata m
            WHERE m.received_at >= $1 AND m.received_at < $2 AND m.uuid IS NOT NULL AND m.id > $3
            AND NOT EXISTS (SELECT 1 FROM ping_metadata n WHERE n.uuid = m.uuid AND n.received_at >= $1 AND n.received_at < $2
                            AND (n.received_at > m.received_at OR (n.received_at = m.received_at AND n.id > m.id)))
            ORDER BY m.id LIMIT $4
            """, [.integer(from), .integer(to), .integer(after), .integer(Int64(max(1, limit)))], operation: "reading metadata reports").map { r throws(StorageError) in
            MetadataReportRef(id: try r.requiredInt64("id"), receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                              uuid: try r.string("uuid"), folded: try r.requiredInt64("folded") != 0)
        }
    }

    static func metricRows(_ e: any SQLExecutor, reportIDs: [Int64]) throws(StorageError) -> [Int64: [MetadataEntries.Entry]] {
        var rows: [Int64: [MetadataEntries.Entry]] = [:]
        // In slices, so no statement takes more parameters than either backend allows.
        var start = 0
        while start < reportIDs.count {
            let slice = reportIDs[start..<min(reportIDs.count, start + 500)]
            start += slice.count
            let list = slice.indices.map { "$\($0 - slice.startIndex + 1)" }.joined(separator: ", ")
            for r in try metricRowColumns.select(e, "FROM metadata_metrics WHERE report_id IN (\(list))", slice.map { .integer($0) },
                                                 operation: "reading metadata metrics") {
                let elapsed: Double?
                switch try r.value("elapsed") {
                case .real(let d): elapsed = d
                case .integer(let i): elapsed = Double(i)
                default: elapsed = nil
                }
                rows[try r.requiredInt64("report_id"), default: []].append(
                    MetadataEntries.Entry(name: try r.requiredString("name"), failed: try r.requiredInt64("failed") != 0, elapsed: elapsed))
            }
        }
        return rows
    }

    static func errors(_ e: any SQLExecutor, from: Int64, to: Int64, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport] {
        try errorColumns.select(e, "FROM ping_errors WHERE received_at >= $1 AND received_at < $2 AND id > $3 ORDER BY id LIMIT $4",
                                [.integer(from), .integer(to), .integer(after), .integer(Int64(max(1, limit)))], operation: "reading error reports").map { r throws(StorageError) in
            StoredClientReport(id: try r.requiredInt64("id"), receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                               uuid: try r.string("uuid"), version: try r.string("version"), message: try r.string("message"),
                               body: try r.requiredString("body"))
        }
    }

    static func version(_ e: any SQLExecutor, uuid: String, at: Int64) throws(StorageError) -> (major: Int, minor: Int)? {
        let rows = try ColumnList([("major", "p.version_major"), ("minor", "p.version_minor")]).select(e, """
            FROM pings p JOIN installations i ON i.id = p.installation_id
            WHERE i.uuid = $1 AND p.recorded_at <= $2 ORDER BY p.recorded_at DESC, p.id DESC LIMIT 1
            """, [.text(uuid), .integer(at)], operation: "reading a ping's version")
        guard let row = rows.first, let major = try row.int64("major"), let minor = try row.int64("minor") else { return nil }
        return (Int(clamping: major), Int(clamping: minor))
    }
}

extension SQLBackedStore {
    public func metadataMetricRows(reportIDs: [Int64]) throws(StorageError) -> [Int64: [MetadataEntries.Entry]] {
        try read { e throws(StorageError) in try ClientReportSQL.metricRows(e, reportIDs: reportIDs) }
    }

    public func metadataBody(id: Int64) throws(StorageError) -> String? {
        try read { e throws(StorageError) in
            try ColumnList(["body"]).select(e, "FROM ping_metadata WHERE id = $1", [.integer(id)], operation: "reading a metadata report").first
                .map { r throws(StorageError) in try r.requiredString("body") }
        }
    }

    public func latestMetadataReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [MetadataReportRef] {
        try read { e throws(StorageError) in try ClientReportSQL.latestMetadata(e, from: from.milliseconds, to: to.milliseconds, after: after, limit: limit) }
    }

    public func errorReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport] {
        try read { e throws(StorageError) in try ClientReportSQL.errors(e, from: from.milliseconds, to: to.milliseconds, after: after, limit: limit) }
    }

    public func versionOf(uuid: String, at: Timestamp) throws(StorageError) -> (major: Int, minor: Int)? {
        try read { e throws(StorageError) in try ClientReportSQL.version(e, uuid: uuid, at: at.milliseconds) }
    }
}
