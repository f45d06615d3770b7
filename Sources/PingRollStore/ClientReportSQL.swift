import PingRollCore

/// A metadata or error report as stored (`/usage_ping_metadata`, `/usage_ping_errors`).
public struct StoredClientReport: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Timestamp
    public var uuid: String?
    /// Error reports: the `version` and `message` the instance sent.
    public var version: String?
    public var message: String?
    /// The JSON body as posted.
    public var body: String
}

/// Reading the reports instances post about their own pings, for instrumentation health.
public protocol ClientReportReading: AnyObject, Sendable {
    /// Each uuid's latest metadata report received in `from..<to` (by received_at, then id), in
    /// id order after `after`, at most `limit`. Reports without a uuid are left out.
    func latestMetadataReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport]

    /// Error reports received in `from..<to`, in id order after `after`, at most `limit`.
    func errorReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport]

    /// `major.minor` of the version of the uuid's latest ping (any hostname) recorded at or
    /// before `at`; nil when it has none or it named no version.
    func versionOf(uuid: String, at: Timestamp) throws(StorageError) -> (major: Int, minor: Int)?
}

enum ClientReportSQL {
    static let metadataColumns = ColumnList([("id", "m.id"), ("received_at", "m.received_at"), ("uuid", "m.uuid"), ("body", "m.body")])
    static let errorColumns = ColumnList(["id", "received_at", "uuid", "version", "message", "body"])

    static func latestMetadata(_ e: any SQLExecutor, from: Int64, to: Int64, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport] {
        try metadataColumns.select(e, """
            FROM ping_metadata m
            WHERE m.received_at >= $1 AND m.received_at < $2 AND m.uuid IS NOT NULL AND m.id > $3
            AND NOT EXISTS (SELECT 1 FROM ping_metadata n WHERE n.uuid = m.uuid AND n.received_at >= $1 AND n.received_at < $2
                            AND (n.received_at > m.received_at OR (n.received_at = m.received_at AND n.id > m.id)))
            ORDER BY m.id LIMIT $4
            """, [.integer(from), .integer(to), .integer(after), .integer(Int64(max(1, limit)))], operation: "reading metadata reports").map { r throws(StorageError) in
            StoredClientReport(id: try r.requiredInt64("id"), receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                               uuid: try r.string("uuid"), version: nil, message: nil, body: try r.requiredString("body"))
        }
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
    public func latestMetadataReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport] {
        try read { e throws(StorageError) in try ClientReportSQL.latestMetadata(e, from: from.milliseconds, to: to.milliseconds, after: after, limit: limit) }
    }

    public func errorReports(from: Timestamp, to: Timestamp, after: Int64, limit: Int) throws(StorageError) -> [StoredClientReport] {
        try read { e throws(StorageError) in try ClientReportSQL.errors(e, from: from.milliseconds, to: to.milliseconds, after: after, limit: limit) }
    }

    public func versionOf(uuid: String, at: Timestamp) throws(StorageError) -> (major: Int, minor: Int)? {
        try read { e throws(StorageError) in try ClientReportSQL.version(e, uuid: uuid, at: at.milliseconds) }
    }
}
