import PingRollCore
import PingRollStore

/// The quarantine, retention (the CLI and HTTP run the same code), the catalog in use, and the
/// long admin operations handed to the job lane.
public final class AdminService: Sendable {
    let store: any PingStore
    /// Retention runs on request and the daily policy.
    public let retention: RetentionSchedule

    init(store: any PingStore, retention: RetentionSchedule) {
        self.store = store
        self.retention = retention
    }

    /// The newest `limit` quarantine entries.
    public func quarantineList(limit: Int) throws(StorageError) -> QuarantineListBody {
        QuarantineListBody(try store.quarantine(limit: limit))
    }

    /// A quarantined body that may go through ingest again.
    public struct RetriablePing: Sendable {
        public var body: [UInt8]
        public var contentEncoding: String?
        public var remoteAddress: String?
    }

    /// The quarantined ping `id`, if it can be retried: 404 without it, 409 when it was not a
    /// ping or only part of its body was kept.
    public func retriablePing(id: Int64) throws -> RetriablePing {
        guard let entry = try store.quarantineEntry(id: id) else { throw ServiceError.notFound("there is no quarantine entry \(id)") }
        let record = entry.record
        guard record.route == "/usage_data" || record.route == "/usage_data/new" else {
            throw ServiceError(409, "not_a_ping", "only pings can be retried; entry \(id) came to \(record.route)")
        }
        guard !record.bodyTruncated else {
            throw ServiceError(409, "body_truncated", "entry \(id) kept only the first \(record.body.count) of \(record.bodySize) bytes")
        }
        return RetriablePing(body: record.body, contentEncoding: record.contentEncoding, remoteAddress: record.remoteAddress)
    }

    /// Records that quarantine entry `quarantineID` was stored as ping `pingID`.
    public func markRetried(quarantineID: Int64, pingID: Int64) throws(StorageError) {
        try store.markRetried(quarantineID: quarantineID, pingID: pingID)
    }

    /// The daily policy and the latest 20 runs.
    public func retentionStatus() throws(StorageError) -> RetentionStatusBody {
        RetentionStatusBody(policy: retention.policy, runs: try store.retentionRuns(limit: 20))
    }

    /// A retention run for the job lane.
    public func retentionWork(_ policy: RetentionPolicy, dryRun: Bool) -> Jobs.Work { JobWork.retention(retention, policy: policy, dryRun: dryRun) }

    /// An online rollup rebuild for the job lane (nil: every metric and the installation counts).
    public func rebuildWork(metric: String?) -> Jobs.Work { JobWork.rebuild(store, metrics: metric.map { [$0] }) }

    /// Replaces the population with `csv` (`PopulationCSV`): every row checked first, then one
    /// transaction (at most `PopulationCSV.maxRows` rows). Answers the rows stored.
    public func replacePopulation(csv: String) throws -> [PopulationRow] {
        let rows: [PopulationRow]
        do { rows = try PopulationCSV.parse(csv) } catch { throw ServiceError(422, "invalid_csv", error.description) }
        try store.replacePopulation(rows)
        return rows
    }

    /// Hands `catalog` to the store (which prepares its rollups); answers the metrics left stale.
    func replaceCatalog(_ catalog: MetricCatalog) throws(StorageError) -> [String] { try store.replaceCatalog(catalog) }
}
