import PingRollCore

/// Keeps the rollups exact as pings are stored, inside the write transaction.
///
/// For each period kind, a new ping that is later (by `recorded_at`) than its installation's
/// current latest ping in that period takes its place: the predecessor's contribution is
/// subtracted and the new one's added. Deltas of a whole batch are combined in memory and
/// written once per cell by `flush`.
final class RollupMaintainer {
    static let latestColumns = ColumnList(["ping_id", "recorded_at"])

    private let executor: any SQLExecutor
    private let contributor: RollupContributor
    private let state: RollupState
    private var deltas: [CellKey: CellValue] = [:]
    private var admission: StringAdmission
    /// Cell upserts written by `flush`, for the write-cost figures.
    private(set) var cellWrites = 0

    private let tuples: TupleRegistry

    init(executor: any SQLExecutor, catalog: MetricCatalog, tuples: TupleRegistry) throws(StorageError) {
        self.executor = executor
        self.tuples = tuples
        state = try RollupState.load(executor, catalog: catalog)
        contributor = RollupContributor(metrics: state.active)
        admission = StringAdmission(executor: executor, readOnly: false)
        deltas.reserveCapacity(4096)
    }

    /// Folds a newly stored ping into the rollups.
    func fold(pingID: Int64, installationID: Int64, recordedAt: Timestamp, tuple: RollupTuple,
              observations: [String: MetricObservation]) throws(StorageError) {
        let op = "updating rollups"
        for kind in PeriodKind.allCases {
            let start = kind.start(of: recordedAt)
            let current = try Self.latestColumns.select(executor, "FROM rollup_latest WHERE installation_id = $1 AND period = $2 AND period_start = $3",
                                                        [.integer(installationID), .integer(kind.code), .integer(start)], operation: op).first
            if let current {
                guard try current.requiredInt64("recorded_at") < recordedAt.milliseconds else { continue }
                let predecessor = try RollupSQL.contributionColumns.select(executor, "FROM pings WHERE id = $1",
                                                                           [.integer(try current.requiredInt64("ping_id"))], operation: op)
                if let row = predecessor.first {
                    let (oldTuple, oldObservations) = try RollupSQL.contribution(row)
                    try add(oldTuple, oldObservations, kind, start, sign: -1)
                }
                try executor.query("UPDATE rollup_latest SET ping_id = $4, recorded_at = $5 WHERE installation_id = $1 AND period = $2 AND period_start = $3",
                                   [.integer(installationID), .integer(kind.code), .integer(start), .integer(pingID), .integer(recordedAt.milliseconds)],
                                   operation: op)
            } else {
                try executor.query("INSERT INTO rollup_latest (installation_id, period, period_start, ping_id, recorded_at) VALUES ($1, $2, $3, $4, $5)",
                                   [.integer(installationID), .integer(kind.code), .integer(start), .integer(pingID), .integer(recordedAt.milliseconds)],
                                   operation: op)
            }
            try add(tuple, observations, kind, start, sign: 1)
        }
    }

    private func add(_ tuple: RollupTuple, _ observations: [String: MetricObservation], _ kind: PeriodKind, _ start: Int64,
                     sign: Int64) throws(StorageError) {
        var failure: StorageError?
        contributor.add(tuple: tuple, observations: observations, period: kind, periodStart: start, sign: sign,
                        includeInstallations: true, into: &deltas) { metric, value in
            do throws(StorageError) { return try admission.cell(metric, value) } catch { failure = error; return RollupContributor.otherCell }
        }
        if let failure { throw failure }
    }

    /// Writes the combined deltas of the batch, one upsert per changed cell.
    func flush() throws(StorageError) {
        cellWrites += try RollupSQL.upsert(deltas, executor, tuples: tuples, operation: "updating rollups")
        deltas.removeAll(keepingCapacity: true)
    }
}

/// Decides which string values get a cell of their own: a value is admitted the first time it is
/// seen while fewer than the metric's `max_values` are admitted, and stays admitted; any other
/// value counts as `other`. Admission is stored, so every later computation agrees with it.
final class StringAdmission {
    private let executor: any SQLExecutor
    private let readOnly: Bool
    private var admitted: [String: Set<String>] = [:]
    private var holdsAdmissionLock = false
    static let admissionLock: Int64 = 0x7069_6E67_6164_6D74

    init(executor: any SQLExecutor, readOnly: Bool) {
        self.executor = executor
        self.readOnly = readOnly
    }

    func cell(_ metric: MetricDefinition, _ value: String) throws(StorageError) -> String {
        if admitted[metric.keyPath] == nil {
            let op = "reading admitted values"
            var values = Set<String>()
            for r in try ColumnList(["value"]).select(executor, "FROM rollup_string_values WHERE metric = $1", [.text(metric.keyPath)], operation: op) {
                values.insert(try r.requiredString("value"))
            }
            admitted[metric.keyPath] = values
        }
        if admitted[metric.keyPath]!.contains(value) { return RollupContributor.valueCell(value) }
        if !readOnly && executor.dialect == .postgres && !holdsAdmissionLock {
            // Another collector may have admitted values since they were read: decide under a
            // lock held to the end of the transaction, on fresh data.
            try executor.query("SELECT pg_advisory_xact_lock($1)", [.integer(Self.admissionLock)], operation: "admitting a value")
            holdsAdmissionLock = true
            admitted.removeAll()
            return try cell(metric, value)
        }
        guard !readOnly, admitted[metric.keyPath]!.count < metric.effectiveMaxValues else { return RollupContributor.otherCell }
        try executor.query("INSERT INTO rollup_string_values (metric, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           [.text(metric.keyPath), .text(value)], operation: "admitting a value")
        admitted[metric.keyPath]!.insert(value)
        return RollupContributor.valueCell(value)
    }
}
