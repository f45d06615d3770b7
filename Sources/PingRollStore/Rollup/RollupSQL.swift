import PingRollCore

/// Shared SQL of the rollup tables.
enum RollupSQL {
    static let upsertCell = """
        INSERT INTO rollup_cells (period, period_start, tuple_id, metric, cell, count, sum_units, sum_micros, sum_high)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (metric, period, period_start, tuple_id, cell)
        DO UPDATE SET count = rollup_cells.count + excluded.count,
                      sum_high = rollup_cells.sum_high + excluded.sum_high,
                      sum_units = rollup_cells.sum_units + excluded.sum_units,
                      sum_micros = rollup_cells.sum_micros + excluded.sum_micros
        """

    static func values(_ key: CellKey, _ value: CellValue, tupleID: Int64) -> [SQLValue] {
        [.integer(key.period.code), .integer(key.periodStart), .integer(tupleID), .text(key.metric), .text(key.cell),
         .integer(value.count), .integer(value.sumUnits), .integer(value.sumMicros), .integer(value.sumHigh)]
    }

    /// Writes cell deltas, one upsert per non-zero cell, in key order (so concurrent writers
    /// lock cell rows in one order and never deadlock); returns how many were written.
    @discardableResult
    static func upsert(_ cells: [CellKey: CellValue], _ executor: any SQLExecutor, tuples: TupleRegistry,
                       operation: String) throws(StorageError) -> Int {
        var written = 0
        // New tuples are registered first, in tuple order, so that concurrent writers also take
        // the locks of the tuple index in one order.
        var ids: [RollupTuple: Int64] = [:]
        for tuple in Set(cells.keys.map(\.tuple)).sorted() { ids[tuple] = try tuples.id(for: tuple, executor) }
        for (key, value) in cells.sorted(by: { $0.key < $1.key }) where !value.isZero {
            let tupleID = ids[key.tuple]!
            try executor.query(upsertCell, values(key, value, tupleID: tupleID), operation: operation)
            written += 1
        }
        return written
    }

    static let selectCells = """
        SELECT c.period, c.period_start, c.metric, c.cell, c.count, c.sum_units, c.sum_micros, c.sum_high,
               t.edition, t.tier, t.installation_type, t.version, t.registry_vendor, t.internal, t.optional_metrics
        FROM rollup_cells c JOIN rollup_tuples t ON t.id = c.tuple_id
        """

    /// Reads cells (all, or those of some metrics); zero cells are left out.
    static func cells(_ executor: any SQLExecutor, metrics: [String]?) throws(StorageError) -> [CellKey: CellValue] {
        var rows: [SQLRow] = []
        if let metrics {
            for metric in metrics {
                rows += try executor.query(selectCells + " WHERE c.metric = $1", [.text(metric)], operation: "reading rollups")
            }
        } else {
            rows = try executor.query(selectCells, [], operation: "reading rollups")
        }
        return decode(rows)
    }

    /// A series query's cells, filtered and summed per group and period by the database.
    static func grouped(_ executor: any SQLExecutor, _ query: SeriesQuery) throws(StorageError) -> [GroupedCell] {
        let starts = query.periodStarts
        var parameters: [SQLValue] = [.integer(query.interval.code), .integer(starts.first ?? query.from),
                                      .integer(starts.last ?? query.to), .text(CellKey.installationsMetric), .text(query.metric.keyPath)]
        var conditions: [String] = []
        // Column names come from the Dimension type, never from the request.
        for (dimension, values) in query.effectiveFilters.sorted(by: { $0.key < $1.key }) {
            let placeholders = values.sorted().map { value -> String in
                parameters.append(.text(value))
                return "$\(parameters.count)"
            }
            conditions.append("t.\(dimension.rawValue) IN (\(placeholders.joined(separator: ", ")))")
        }
        let group = query.groupBy.map { "t.\($0.rawValue)" } ?? "'all'"
        let sql = """
            SELECT \(group), c.period_start, c.metric, c.cell, SUM(c.count), SUM(c.sum_units), SUM(c.sum_micros), SUM(c.sum_high)
            FROM rollup_cells c JOIN rollup_tuples t ON t.id = c.tuple_id
            WHERE c.metric IN ($4, $5) AND c.period = $1 AND c.period_start >= $2 AND c.period_start <= $3
            \(conditions.map { "AND " + $0 }.joined(separator: " "))
            GROUP BY 1, 2, 3, 4
            """
        let op = "reading a series"
        return try executor.query(sql, parameters, operation: op).map { r throws(StorageError) in
            GroupedCell(group: r[0].string ?? "unknown", periodStart: r[1].int64 ?? 0, metric: r[2].string ?? "", cell: r[3].string ?? "",
                        value: CellValue(count: try Self.int(r[4], op), sumHigh: try Self.int(r[7], op), sumUnits: try Self.int(r[5], op),
                                         sumMicros: try Self.int(r[6], op)))
        }
    }

    /// An integer from a SUM (PostgreSQL returns numeric, as text); a sum that does not fit in
    /// 64 bits (impossible under CellValue's bound, or a cell written before it) is an error,
    /// never a trap or a silent zero.
    static func int(_ v: SQLValue, _ operation: String) throws(StorageError) -> Int64 {
        switch v {
        case .integer(let i): return i
        case .null: return 0
        case .real(let d): if let i = Int64(exactly: d.rounded()) { return i }
        case .text(let t): if let i = Int64(t) { return i }
        default: break
        }
        throw StorageError(.other, operation: operation,
                           reason: "a rollup sum is out of range; run `pingroll rollup verify` and `pingroll rollup rebuild`")
    }

    static func decode(_ rows: [SQLRow]) -> [CellKey: CellValue] {
        var result: [CellKey: CellValue] = [:]
        for r in rows {
            let value = CellValue(count: r[4].int64 ?? 0, sumHigh: r[7].int64 ?? 0, sumUnits: r[5].int64 ?? 0, sumMicros: r[6].int64 ?? 0)
            guard !value.isZero, let period = PeriodKind(code: r[0].int64 ?? -1) else { continue }
            let tuple = RollupTuple(fields: r[8..<(8 + RollupTuple.dimensions.count)].map { $0.string ?? RollupTuple.unknown })
            result[CellKey(period: period, periodStart: r[1].int64 ?? 0, tuple: tuple, metric: r[2].string ?? "", cell: r[3].string ?? "")] = value
        }
        return result
    }

    /// The columns of `rollup_tuples`, in `RollupTuple.dimensions` order (`selectCells` names them too).
    static let tupleColumns = "edition, tier, installation_type, version, registry_vendor, internal, optional_metrics"

    /// The dimension tuple and observations of a stored ping.
    static let pingContributionColumns = """
        edition, tier, installation_type, version_major, version_minor, registry_vendor, internal, data_categories, observations
        """

    static func contribution(_ r: SQLRow, at offset: Int) -> (RollupTuple, [String: MetricObservation]) {
        (tuple(r, at: offset), ObservationCodec.decode(r[offset + 8].string ?? ""))
    }

    /// The tuple of a ping or installation row from the first eight of `pingContributionColumns`.
    /// NULL `internal` and `data_categories` (rows stored before migration 8) read as `false`
    /// and unknown.
    static func tuple(_ r: SQLRow, at offset: Int) -> RollupTuple {
        RollupTuple(edition: r[offset].string, tier: r[offset + 1].string, installationType: r[offset + 2].string,
                           versionMajor: r[offset + 3].int64.map(Int.init), versionMinor: r[offset + 4].int64.map(Int.init),
                           registryVendor: r[offset + 5].string, isInternal: r[offset + 6].bool ?? false,
                           optionalMetrics: PingFacts.optionalMetrics(for: PingFacts.categories(stored: r[offset + 7].string)))
    }
}

/// Which metrics the rollups are maintained for: the catalog metrics whose stored definition
/// matches (built), and those that are stale (new or changed since their last rebuild).
struct RollupState {
    var active: [MetricDefinition]
    var stale: [String]
    /// Whether the installation counts and the latest-ping bookkeeping are built.
    var installationsBuilt: Bool

    /// Changes whenever what the tuple of a ping is made of changes: `2` added `internal` and
    /// `optional_metrics` (migration 8), which only a full `rollup rebuild` fills in for
    /// pings stored before.
    static let installationsDefinition = "installations|2"

    /// How the installation counts appear in stale lists: they need a full rebuild.
    static let installationsName = "(installations)"

    /// Everything that needs a rebuild: `(installations)` first when the tuples are not built.
    var staleNames: [String] { (installationsBuilt ? [] : [Self.installationsName]) + stale }

    static func load(_ executor: any SQLExecutor, catalog: MetricCatalog) throws(StorageError) -> RollupState {
        let rows = try executor.query("SELECT metric, definition FROM rollup_metrics", [], operation: "reading rollup state")
        var stored: [String: String] = [:]
        for r in rows { stored[r[0].string ?? ""] = r[1].string ?? "" }
        var state = RollupState(active: [], stale: [], installationsBuilt: stored[CellKey.installationsMetric] == installationsDefinition)
        for metric in catalog.metrics {
            if stored[metric.keyPath] == metric.definitionText { state.active.append(metric) } else { state.stale.append(metric.keyPath) }
        }
        return state
    }

    /// Registers every metric as built while there are no pings yet (nothing to rebuild);
    /// with pings stored, new or changed metrics stay stale until `rollup rebuild`.
    static func prepare(_ executor: any SQLExecutor, catalog: MetricCatalog) throws(StorageError) -> RollupState {
        let op = "preparing rollups"
        let hasPings = !(try executor.query("SELECT id FROM pings LIMIT 1", [], operation: op)).isEmpty
        if !hasPings {
            try markBuilt(executor, metrics: catalog.metrics, installations: true)
        }
        return try load(executor, catalog: catalog)
    }

    static func markBuilt(_ executor: any SQLExecutor, metrics: [MetricDefinition], installations: Bool) throws(StorageError) {
        let op = "recording rollup state"
        var entries = metrics.map { ($0.keyPath, $0.definitionText) }
        if installations { entries.append((CellKey.installationsMetric, installationsDefinition)) }
        for (metric, definition) in entries {
            try executor.query("""
                INSERT INTO rollup_metrics (metric, definition, built_at) VALUES ($1, $2, $3)
                ON CONFLICT (metric) DO UPDATE SET definition = excluded.definition, built_at = excluded.built_at
                """, [.text(metric), .text(definition), .integer(Timestamp.now().milliseconds)], operation: op)
        }
    }
}

extension PeriodKind {
    /// The period as stored: 0 day, 1 week, 2 month.
    var code: Int64 { Int64(PeriodKind.allCases.firstIndex(of: self)!) }

    init?(code: Int64) {
        guard code >= 0, code < Int64(PeriodKind.allCases.count) else { return nil }
        self = PeriodKind.allCases[Int(code)]
    }
}

/// Maps dimension tuples to the small integer ids rollup cells are keyed by.
///
/// Ids never change once assigned, so the cache stays valid across transactions and processes;
/// after a failed transaction `reset` drops ids that may have been rolled back.
final class TupleRegistry: @unchecked Sendable {
    // Used only while holding the store's writer lock (or a single-threaded command).
    private var ids: [RollupTuple: Int64] = [:]

    func id(for tuple: RollupTuple, _ executor: any SQLExecutor) throws(StorageError) -> Int64 {
        if let id = ids[tuple] { return id }
        let op = "registering a rollup tuple"
        let values: [SQLValue] = tuple.fields.map { .text($0) }
        try executor.query("""
            INSERT INTO rollup_tuples (\(RollupSQL.tupleColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT DO NOTHING
            """, values, operation: op)
        let rows = try executor.query("""
            SELECT id FROM rollup_tuples
            WHERE edition = $1 AND tier = $2 AND installation_type = $3 AND version = $4 AND registry_vendor = $5
              AND internal = $6 AND optional_metrics = $7
            """, values, operation: op)
        guard let id = rows.first?[0].int64 else { throw StorageError(.other, operation: op, reason: "the tuple was not stored") }
        ids[tuple] = id
        return id
    }

    func reset() { ids.removeAll() }
}
