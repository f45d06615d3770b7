import PingRollCore

/// Keeps the rollups exact as pings are stored, inside the write transaction.
///
/// For each period kind, a new ping that is later (by `recorded_at`) than its installation's
/// current latest ping in that period takes its place: the predecessor's contribution is
/// subtracted and the new one's added. Deltas of a whole batch are combined in memory and
/// written once per cell by `flush`.
final class RollupMaintainer {
    private let executor: any SQLExecutor
    private let contributor: RollupContributor
    /// The targets of an unfinished rebuild, folded only for installations it has passed.
    private let gated: RollupContributor
    private let state: RollupState
    private var divergenceRecorded = false
    private var deltas: [CellKey: CellValue] = [:]
    private var admission: StringAdmission
    /// Cell upserts written by `flush`, for the write-cost figures.
    private(set) var cellWrites = 0

    private let tuples: TupleRegistry

    init(executor: any SQLExecutor, catalog: MetricCatalog, tuples: TupleRegistry) throws(StorageError) {
        self.executor = executor
        self.tuples = tuples
        var state = try RollupState.load(executor, catalog: catalog)
        // A database no command has prepared yet (`pingroll pull` or a quarantine retry as the
        // first writer): registered now, before this batch's pings, so they are folded in.
        if state.isUnprepared { state = try RollupState.prepare(executor, catalog: catalog) }
        self.state = state
        contributor = RollupContributor(metrics: state.active)
        gated = RollupContributor(metrics: state.gated)
        admission = StringAdmission(executor: executor, readOnly: false)
        deltas.reserveCapacity(4096)
    }

    /// Makes room for the deltas of `pings` pings at once: a batch's dictionary grew by doubling
    /// otherwise, rehashing every key each time (6 % of an import).
    func reserve(pings: Int) {
        // Each ping touches about one cell per metric and period kind, plus its installation.
        let wanted = min(pings * (state.active.count + 1) * PeriodKind.allCases.count, 1 << 18)
        if wanted > deltas.capacity { deltas.reserveCapacity(wanted) }
    }

    /// Folds a newly stored ping into the rollups.
    /// Three statements at most per ping, whatever the number of period kinds: one read of the
    /// installation's latest pings in the ping's periods, one read of the predecessors being
    /// replaced, one upsert of the new latest entries.
    func fold(pingID: Int64, installationID: Int64, recordedAt: Timestamp, tuple: RollupTuple,
              observations: [String: MetricObservation]) throws(StorageError) {
        let op = "updating rollups"
        // An installation an unfinished rebuild has not reached yet is the rebuild's to count
        // (for a full rebuild, its latest-ping bookkeeping too); one it has passed is folded here.
        var foldGated = false
        if let rebuild = state.rebuild {
            if installationID > rebuild.cursor {
                if rebuild.full { return }
            } else {
                foldGated = true
                if !state.diverged.isEmpty && !divergenceRecorded {
                    try executor.query("UPDATE rollup_rebuild SET diverged = $1 WHERE diverged IS NULL",
                                       [.text(state.diverged.joined(separator: ", "))], operation: op)
                    divergenceRecorded = true
                }
            }
        }
        let kinds = PeriodKind.allCases
        let starts = kinds.map { $0.start(of: recordedAt) }
        var parameters: [SQLValue] = [.integer(installationID)]
        var alternatives: [String] = []
        for (kind, start) in zip(kinds, starts) {
            parameters += [.integer(kind.code), .integer(start)]
            alternatives.append("(period = $\(parameters.count - 1) AND period_start = $\(parameters.count))")
        }
        var current: [Int64: (pingID: Int64, recordedAt: Int64)] = [:]
        for r in try Self.currentColumns.select(executor, "FROM rollup_latest WHERE installation_id = $1 AND (\(alternatives.joined(separator: " OR ")))",
                                                parameters, operation: op) {
            current[try r.requiredInt64("period")] = (try r.requiredInt64("ping_id"), try r.requiredInt64("recorded_at"))
        }
        // The periods this ping becomes the latest of, and the pings it replaces there.
        var taken: [(kind: PeriodKind, start: Int64, replaces: Int64?)] = []
        for (kind, start) in zip(kinds, starts) {
            if let c = current[kind.code] {
                guard c.recordedAt < recordedAt.milliseconds else { continue }
                taken.append((kind, start, c.pingID))
            } else {
                taken.append((kind, start, nil))
            }
        }
        guard !taken.isEmpty else { return }
        let predecessors = Array(Set(taken.compactMap(\.replaces))).sorted()
        if !predecessors.isEmpty {
            var contributions: [Int64: (RollupTuple, [String: MetricObservation])] = [:]
            let list = predecessors.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            for row in try Self.predecessorColumns.select(executor, "FROM pings WHERE id IN (\(list))", predecessors.map { .integer($0) }, operation: op) {
                contributions[try row.requiredInt64("id")] = try RollupSQL.contribution(row)
            }
            for t in taken {
                // A predecessor no longer stored contributes nothing to subtract.
                if let id = t.replaces, let (oldTuple, oldObservations) = contributions[id] {
                    try add(oldTuple, oldObservations, t.kind, t.start, sign: -1, gated: foldGated)
                }
            }
        }
        try RollupSQL.upsertLatest(taken.map {
            RollupSQL.LatestEntry(installationID: installationID, period: $0.kind, periodStart: $0.start, pingID: pingID, recordedAt: recordedAt.milliseconds)
        }, executor, operation: op)
        for t in taken { try add(tuple, observations, t.kind, t.start, sign: 1, gated: foldGated) }
    }

    static let currentColumns = ColumnList(["period", "ping_id", "recorded_at"])
    static let predecessorColumns = ColumnList(["id"] + RollupSQL.contributionColumns.names)

    private func add(_ tuple: RollupTuple, _ observations: [String: MetricObservation], _ kind: PeriodKind, _ start: Int64,
                     sign: Int64, gated foldGated: Bool) throws(StorageError) {
        var failure: StorageError?
        let admit = { (metric: MetricDefinition, value: String) -> String in
            do throws(StorageError) { return try self.admission.cell(metric, value) } catch { failure = error; return RollupContributor.otherCell }
        }
        contributor.add(tuple: tuple, observations: observations, period: kind, periodStart: start, sign: sign,
                        includeInstallations: true, into: &deltas, stringCell: admit)
        if foldGated {
            gated.add(tuple: tuple, observations: observations, period: kind, periodStart: start, sign: sign,
                      includeInstallations: false, into: &deltas, stringCell: admit)
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
