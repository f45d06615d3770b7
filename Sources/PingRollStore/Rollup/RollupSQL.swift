import PingRollCore

/// Shared SQL of the rollup tables.
enum RollupSQL {
    /// An upsert of `rows` cells in one statement.
    static func upsertCells(rows: Int) -> String {
        let tuples = (0..<rows).map { r in "(" + (1...9).map { "$\(r * 9 + $0)" }.joined(separator: ", ") + ")" }
        return """
            INSERT INTO rollup_cells (period, period_start, tuple_id, metric, cell, count, sum_units, sum_micros, sum_high)
            VALUES \(tuples.joined(separator: ", "))
            ON CONFLICT (metric, period, period_start, tuple_id, cell)
            DO UPDATE SET count = rollup_cells.count + excluded.count,
                          sum_high = rollup_cells.sum_high + excluded.sum_high,
                          sum_units = rollup_cells.sum_units + excluded.sum_units,
                          sum_micros = rollup_cells.sum_micros + excluded.sum_micros
            """
    }

    /// The statement sizes used: few distinct texts, so every one stays in the statement cache.
    static let chunkSizes = [64, 8, 1]
    static let upserts: [Int: String] = Dictionary(uniqueKeysWithValues: chunkSizes.map { ($0, upsertCells(rows: $0)) })

    static func values(_ key: CellKey, _ value: CellValue, tupleID: Int64) -> [SQLValue] {
        [.integer(key.period.code), .integer(key.periodStart), .integer(tupleID), .text(key.metric), .text(key.cell),
         .integer(value.count), .integer(value.sumUnits), .integer(value.sumMicros), .integer(value.sumHigh)]
    }

    /// Writes cell deltas, up to 64 cells per statement, on PostgreSQL in key order (so
    /// concurrent writers lock cell rows in one order and never deadlock); returns how many
    /// cells were written.
    @discardableResult
    static func upsert(_ cells: [CellKey: CellValue], _ executor: any SQLExecutor, tuples: TupleRegistry,
                       operation: String) throws(StorageError) -> Int {
        var written = 0
        // New tuples are registered first, in tuple order, so that concurrent writers also take
        // the locks of the tuple index in one order.
        var ids: [RollupTuple: Int64] = [:]
        for tuple in Set(cells.keys.map(\.tuple)).sorted() { ids[tuple] = try tuples.id(for: tuple, executor) }
        var rows = cells.filter { !$0.value.isZero }.map { (key: $0.key, value: $0.value) }
        if executor.dialect == .postgres {
            // Concurrent collectors must lock cell rows in one order. Indices are sorted, not the
            // rows: moving keys of nine strings through a merge sort cost a quarter of an import.
            // SQLite has one writer at a time, so its order does not matter and is not paid for.
            let order = rows.indices.sorted { rows[$0].key < rows[$1].key }
            rows = order.map { rows[$0] }
        }
        var next = 0
        while next < rows.count {
            let size = chunkSizes.first { $0 <= rows.count - next } ?? 1
            var parameters: [SQLValue] = []
            parameters.reserveCapacity(size * 9)
            for (key, value) in rows[next..<(next + size)] {
                guard let tupleID = ids[key.tuple] else {
                    throw StorageError(.other, operation: operation, reason: "a rollup tuple has no id")
                }
                parameters += values(key, value, tupleID: tupleID)
            }
            try executor.query(upserts[size]!, parameters, operation: operation)
            next += size
            written += size
        }
        return written
    }

    /// One installation's latest ping of one period.
    struct LatestEntry {
        var installationID: Int64
        var period: PeriodKind
        var periodStart: Int64
        var pingID: Int64
        var recordedAt: Int64
    }

    /// Upserts `rollup_latest` entries, up to 64 per statement.
    static func upsertLatest(_ entries: [LatestEntry], _ executor: any SQLExecutor, operation: String) throws(StorageError) {
        var k = 0
        while k < entries.count {
            let slice = entries[k..<min(k + 64, entries.count)]
            var values: [SQLValue] = []
            var rows: [String] = []
            for e in slice {
                values += [.integer(e.installationID), .integer(e.period.code), .integer(e.periodStart), .integer(e.pingID), .integer(e.recordedAt)]
                let n = values.count
                rows.append("($\(n - 4), $\(n - 3), $\(n - 2), $\(n - 1), $\(n))")
            }
            try executor.query("""
                INSERT INTO rollup_latest (installation_id, period, period_start, ping_id, recorded_at) VALUES \(rows.joined(separator: ", "))
                ON CONFLICT (installation_id, period, period_start) DO UPDATE SET ping_id = excluded.ping_id, recorded_at = excluded.recorded_at
                """, values, operation: operation)
            k += slice.count
        }
    }

    /// A cell with its tuple's dimensions (named as the dimensions are).
    static let cellColumnPairs: [(name: String, expression: String)] =
        [("period", "c.period"), ("period_start", "c.period_start"), ("metric", "c.metric"), ("cell", "c.cell"),
         ("count", "c.count"), ("sum_units", "c.sum_units"), ("sum_micros", "c.sum_micros"), ("sum_high", "c.sum_high")]
        + Dimension.allCases.map { ($0.rawValue, "t.\($0.rawValue)") }
    static let cellColumns = ColumnList(cellColumnPairs)
    /// With the tuple id, which pages of cells are keyed by.
    static let pagedCellColumns = ColumnList(cellColumnPairs + [("tuple_id", "c.tuple_id")])
    static let cellsFrom = "FROM rollup_cells c JOIN rollup_tuples t ON t.id = c.tuple_id"

    /// Reads cells (all, or those of some metrics); zero cells are left out.
    static func cells(_ executor: any SQLExecutor, metrics: [String]?) throws(StorageError) -> [CellKey: CellValue] {
        let op = "reading rollups"
        var rows: [NamedRow] = []
        if let metrics {
            for metric in metrics {
                rows += try cellColumns.select(executor, cellsFrom + " WHERE c.metric = $1", [.text(metric)], operation: op)
            }
        } else {
            rows = try cellColumns.select(executor, cellsFrom, [], operation: op)
        }
        return try decode(rows)
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
        let columns = ColumnList([("group_value", query.groupBy.map { "t.\($0.rawValue)" } ?? "'all'"), ("period_start", "c.period_start"),
                                  ("metric", "c.metric"), ("cell", "c.cell"), ("count", "SUM(c.count)"), ("sum_units", "SUM(c.sum_units)"),
                                  ("sum_micros", "SUM(c.sum_micros)"), ("sum_high", "SUM(c.sum_high)")])
        let rest = """
            \(cellsFrom)
            WHERE c.metric IN ($4, $5) AND c.period = $1 AND c.period_start >= $2 AND c.period_start <= $3
            \(conditions.map { "AND " + $0 }.joined(separator: " "))
            GROUP BY 1, 2, 3, 4
            """
        let op = "reading a series"
        var rows = try columns.select(executor, rest, parameters, operation: op).map { r throws(StorageError) in
            GroupedCell(group: try r.requiredString("group_value"), periodStart: try r.requiredInt64("period_start"),
                        metric: try r.requiredString("metric"), cell: try r.requiredString("cell"), value: try sums(r, op))
        }
        if query.metric.since != nil {
            // The unknowns by version, to count those from versions before the metric existed:
            // one row per group, period and version (a few dozen versions at most).
            let byVersion = ColumnList([("group_value", query.groupBy.map { "t.\($0.rawValue)" } ?? "'all'"), ("period_start", "c.period_start"),
                                        ("version", "t.version"), ("count", "SUM(c.count)")])
            let unknownRest = """
                \(cellsFrom)
                WHERE c.metric = $5 AND c.cell = $\(parameters.count + 1) AND c.period = $1 AND c.period_start >= $2 AND c.period_start <= $3
                AND c.metric <> $4
                \(conditions.map { "AND " + $0 }.joined(separator: " "))
                GROUP BY 1, 2, 3
                """
            for r in try byVersion.select(executor, unknownRest, parameters + [.text(Cell.unknown.rawValue)], operation: op)
            where query.metric.isBeforeSince(try r.requiredString("version")) {
                rows.append(GroupedCell(group: try r.requiredString("group_value"), periodStart: try r.requiredInt64("period_start"),
                                        metric: query.metric.keyPath, cell: SeriesPoint.notEligibleCell,
                                        value: CellValue(count: try int(r.value("count"), op))))
            }
        }
        return rows
    }

    /// A cell's count and sum limbs from a row naming them `count`, `sum_high`, `sum_units`, `sum_micros`.
    static func sums(_ r: NamedRow, _ op: String) throws(StorageError) -> CellValue {
        CellValue(count: try int(r.value("count"), op), sumHigh: try int(r.value("sum_high"), op),
                  sumUnits: try int(r.value("sum_units"), op), sumMicros: try int(r.value("sum_micros"), op))
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

    /// Calls `body` with every non-zero live cell of `metric`, a page at a time (in key order),
    /// so that a metric's cells are never all in memory at once.
    static func forEachCell(_ executor: any SQLExecutor, metric: String, page: Int = 5_000,
                            _ body: (CellKey, CellValue) throws(StorageError) -> Void) throws(StorageError) {
        let op = "reading rollups"
        var after: [SQLValue] = [.integer(-1), .integer(Int64.min), .integer(Int64.min), .text("")]
        while true {
            let rows = try pagedCellColumns.select(executor, cellsFrom + """
                 WHERE c.metric = $1 AND (c.period, c.period_start, c.tuple_id, c.cell) > ($2, $3, $4, $5)
                ORDER BY c.period, c.period_start, c.tuple_id, c.cell LIMIT \(max(1, page))
                """, [.text(metric)] + after, operation: op)
            guard let last = rows.last else { return }
            for (key, value) in try decode(rows) { try body(key, value) }
            after = [.integer(try last.requiredInt64("period")), .integer(try last.requiredInt64("period_start")),
                     .integer(try last.requiredInt64("tuple_id")), .text(try last.requiredString("cell"))]
            if rows.count < page { return }
        }
    }

    static func decode(_ rows: [NamedRow]) throws(StorageError) -> [CellKey: CellValue] {
        let op = "reading rollups"
        var result: [CellKey: CellValue] = [:]
        for r in rows {
            let value = try sums(r, op)
            guard !value.isZero else { continue }
            let code = try r.requiredInt64("period")
            guard let period = PeriodKind(code: code) else {
                throw StorageError(.corrupt, operation: op, reason: "a rollup cell has period code \(code)")
            }
            var fields: [String] = []
            for dimension in Dimension.allCases { fields.append(try r.requiredString(dimension.rawValue)) }
            result[CellKey(period: period, periodStart: try r.requiredInt64("period_start"), tuple: RollupTuple(fields: fields),
                           metric: try r.requiredString("metric"), cell: try r.requiredString("cell"))] = value
        }
        return result
    }

    /// The dimension tuple and observations of a stored ping.
    static let contributionColumns = ColumnList([
        "edition", "tier", "installation_type", "version_major", "version_minor", "registry_vendor", "internal", "data_categories", "observations",
    ])

    /// A stored ping's tuple and observations, from a row with `contributionColumns`. NULL
    /// `observations` (pings stored before migration 2, not rebuilt since) read as none.
    static func contribution(_ r: NamedRow) throws(StorageError) -> (RollupTuple, [String: MetricObservation]) {
        (try tuple(r), ObservationCodec.decode(try r.string("observations") ?? ""))
    }

    /// The tuple of a ping or installation row with the first eight `contributionColumns`.
    /// NULL `internal` and `data_categories` (rows stored before migration 8) read as `false`
    /// and unknown; NULL facts are what the ping did not say.
    static func tuple(_ r: NamedRow) throws(StorageError) -> RollupTuple {
        RollupTuple(edition: try r.string("edition"), tier: try r.string("tier"), installationType: try r.string("installation_type"),
                    versionMajor: try r.int64("version_major").map { Int(clamping: $0) }, versionMinor: try r.int64("version_minor").map { Int(clamping: $0) },
                    registryVendor: try r.string("registry_vendor"), isInternal: try r.bool("internal") ?? false,
                    optionalMetrics: PingFacts.optionalMetrics(for: PingFacts.categories(stored: try r.string("data_categories"))))
    }
}

/// Which metrics the rollups are maintained for: the catalog metrics whose stored definition
/// matches (built), and those that are stale (new or changed since their last rebuild).
struct RollupState {
    var active: [MetricDefinition]
    var stale: [String]
    /// Whether the installation counts and the latest-ping bookkeeping are built.
    var installationsBuilt: Bool
    /// An unfinished online rebuild: its targets are neither active nor stale.
    var rebuild: RebuildProgress?
    /// The rebuild's targets as this catalog defines them, where that is the rebuild's
    /// definition: writers fold them for installations at or below the rebuild's cursor.
    var gated: [MetricDefinition] = []
    /// The rebuild's targets this catalog defines differently or not at all.
    var diverged: [String] = []

    /// Changes whenever what the tuple of a ping is made of changes: `2` added `internal` and
    /// `optional_metrics` (migration 8), which only a full `rollup rebuild` fills in for
    /// pings stored before.
    static let installationsDefinition = "installations|2"

    /// How the installation counts appear in stale lists: they need a full rebuild.
    static let installationsName = "(installations)"

    /// Nothing registered at all: no metric built, none being rebuilt, no installation counts.
    var isUnprepared: Bool { !installationsBuilt && active.isEmpty && gated.isEmpty && rebuild == nil }

    /// Everything that needs a rebuild: `(installations)` first when the tuples are not built.
    var staleNames: [String] { (installationsBuilt || rebuild?.full == true ? [] : [Self.installationsName]) + stale }

    static func load(_ executor: any SQLExecutor, catalog: MetricCatalog) throws(StorageError) -> RollupState {
        let op = "reading rollup state"
        var stored: [String: String] = [:]
        for r in try ColumnList(["metric", "definition"]).select(executor, "FROM rollup_metrics", [], operation: op) {
            stored[try r.requiredString("metric")] = try r.requiredString("definition")
        }
        let rebuild = try RebuildProgress.load(executor)
        var state = RollupState(active: [], stale: [], installationsBuilt: stored[CellKey.installationsMetric] == installationsDefinition,
                                rebuild: rebuild)
        for metric in catalog.metrics {
            if let definition = rebuild?.targets[metric.keyPath] {
                if definition == metric.definitionText { state.gated.append(metric) }
            } else if stored[metric.keyPath] == metric.definitionText {
                state.active.append(metric)
            } else {
                state.stale.append(metric.keyPath)
            }
        }
        state.diverged = (rebuild?.targets ?? [:]).filter { catalog.metric($0.key)?.definitionText != $0.value }.keys.sorted()
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
        try executor.query(Self.insertTuple, values, operation: op)
        guard let id = try executor.optionalScalarInt64(Self.selectTuple, values, operation: op) else {
            throw StorageError(.other, operation: op, reason: "the tuple was not stored")
        }
        ids[tuple] = id
        return id
    }

    func reset() { ids.removeAll() }

    /// `rollup_tuples` has one column per dimension, named as the dimension, bound in `RollupTuple.fields` order.
    static let insertTuple = """
        INSERT INTO rollup_tuples (\(Dimension.allCases.map(\.rawValue).joined(separator: ", ")))
        VALUES (\(Dimension.allCases.indices.map { "$\($0 + 1)" }.joined(separator: ", "))) ON CONFLICT DO NOTHING
        """
    static let selectTuple = "SELECT id FROM rollup_tuples WHERE "
        + Dimension.allCases.enumerated().map { "\($1.rawValue) = $\($0 + 1)" }.joined(separator: " AND ")
}
