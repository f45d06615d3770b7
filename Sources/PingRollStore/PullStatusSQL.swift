import PingRollCore

/// The last known state of one scheduled pull (`serve --pull-config`), kept across restarts.
public struct PullStatusRecord: Sendable, Equatable {
    public var name: String
    public var url: String
    public var lastAttemptAt: Timestamp?
    public var lastSuccessAt: Timestamp?
    public var lastUsageDataID: Int64?
    public var lastError: String?
    public var nextAt: Timestamp
    public var successes: Int64
    public var failures: Int64

    public init(name: String, url: String, lastAttemptAt: Timestamp? = nil, lastSuccessAt: Timestamp? = nil, lastUsageDataID: Int64? = nil,
                lastError: String? = nil, nextAt: Timestamp, successes: Int64 = 0, failures: Int64 = 0) {
        self.name = name
        self.url = url
        self.lastAttemptAt = lastAttemptAt
        self.lastSuccessAt = lastSuccessAt
        self.lastUsageDataID = lastUsageDataID
        self.lastError = lastError
        self.nextAt = nextAt
        self.successes = successes
        self.failures = failures
    }
}

/// Scheduled pulls' status, one row per configured instance name.
public protocol PullStatusStoring: AnyObject, Sendable {
    /// Every saved status, ordered by name.
    func pullStatuses() throws(StorageError) -> [PullStatusRecord]
    /// Inserts or replaces the status of `status.name`.
    func savePullStatus(_ status: PullStatusRecord) throws(StorageError)
}

enum PullStatusSQL {
    static let columns = ColumnList(["name", "url", "last_attempt_at", "last_success_at", "last_usage_data_id", "last_error",
                                     "next_at", "successes", "failures"])

    static func all(_ e: any SQLExecutor) throws(StorageError) -> [PullStatusRecord] {
        try columns.select(e, "FROM pull_status ORDER BY name", [], operation: "reading pull status").map { r throws(StorageError) in
            PullStatusRecord(name: try r.requiredString("name"), url: try r.requiredString("url"),
                             lastAttemptAt: try r.int64("last_attempt_at").map(Timestamp.init(milliseconds:)),
                             lastSuccessAt: try r.int64("last_success_at").map(Timestamp.init(milliseconds:)),
                             lastUsageDataID: try r.int64("last_usage_data_id"), lastError: try r.string("last_error"),
                             nextAt: Timestamp(milliseconds: try r.requiredInt64("next_at")),
                             successes: try r.requiredInt64("successes"), failures: try r.requiredInt64("failures"))
        }
    }

    static func save(_ e: any SQLExecutor, _ s: PullStatusRecord) throws(StorageError) {
        let list = columns.names.joined(separator: ", ")
        let updates = columns.names.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        try e.query("""
            INSERT INTO pull_status (\(list)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (name) DO UPDATE SET \(updates)
            """, [.text(s.name), .text(s.url), SQLValue(s.lastAttemptAt?.milliseconds), SQLValue(s.lastSuccessAt?.milliseconds),
                  SQLValue(s.lastUsageDataID), SQLValue(s.lastError), .integer(s.nextAt.milliseconds), .integer(s.successes), .integer(s.failures)],
            operation: "saving pull status")
    }
}

extension SQLBackedStore {
    public func pullStatuses() throws(StorageError) -> [PullStatusRecord] {
        try read { e throws(StorageError) in try PullStatusSQL.all(e) }
    }

    public func savePullStatus(_ status: PullStatusRecord) throws(StorageError) {
        try writeTransaction("saving pull status") { e throws(StorageError) in try PullStatusSQL.save(e, status) }
    }
}
