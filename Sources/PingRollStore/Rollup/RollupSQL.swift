import PingRollCore

/// Shared SQL of the rollup tables.
enum RollupSQL {
    static let cellColumns = "period, period_start, metric, cell, edition, tier, installation_type, version, registry_vendor, count, sum_units, sum_micros"

    static let upsertCell = """
        INSERT INTO rollup_cells (\(cellColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (period, period_start, metric, cell, edition, tier, installation_type, version, registry_vendor)
        DO UPDATE SET count = rollup_cells.count + excluded.count,
                      sum_units = rollup_cells.sum_units + excluded.sum_units,
                      sum_micros = rollup_cells.sum_micros + excluded.sum_micros
        """

    static func values(_ key: CellKey, _ value: CellValue) -> [SQLValue] {
        [.text(key.period.rawValue), .integer(key.periodStart), .text(key.metric), .text(key.cell),
         .text(key.tuple.edition), .text(key.tuple.tier), .text(key.tuple.installationType), .text(key.tuple.version),
         .text(key.tuple.registryVendor), .integer(value.count), .integer(value.sumUnits), .integer(value.sumMicros)]
    }

    /// Reads cells (all, or those of some metrics); zero cells are left out.
    static func cells(_ executor: any SQLExecutor, metrics: [String]?) throws(StorageError) -> [CellKey: CellValue] {
        let rows: [SQLRow]
        if let metrics {
            var all: [SQLRow] = []
            for metric in metrics {
                all += try executor.query("SELECT \(cellColumns) FROM rollup_cells WHERE metric = $1", [.text(metric)],
                                          operation: "reading rollups")
            }
            rows = all
        } else {
            rows = try executor.query("SELECT \(cellColumns) FROM rollup_cells", [], operation: "reading rollups")
        }
        var result: [CellKey: CellValue] = [:]
        for r in rows {
            let value = CellValue(count: r[9].int64 ?? 0, sumUnits: r[10].int64 ?? 0, sumMicros: r[11].int64 ?? 0)
            guard !value.isZero, let period = PeriodKind(rawValue: r[0].string ?? "") else { continue }
            let tuple = RollupTuple(raw: [r[4], r[5], r[6], r[7], r[8]].map { $0.string ?? RollupTuple.unknown })
            result[CellKey(period: period, periodStart: r[1].int64 ?? 0, tuple: tuple, metric: r[2].string ?? "", cell: r[3].string ?? "")] = value
        }
        return result
    }

    /// The dimension tuple and observations of a stored ping.
    static let pingContributionColumns = "edition, tier, installation_type, version_major, version_minor, registry_vendor, observations"

    static func contribution(_ r: SQLRow, at offset: Int) -> (RollupTuple, [String: MetricObservation]) {
        let tuple = RollupTuple(edition: r[offset].string, tier: r[offset + 1].string, installationType: r[offset + 2].string,
                                versionMajor: r[offset + 3].int64.map(Int.init), versionMinor: r[offset + 4].int64.map(Int.init),
                                registryVendor: r[offset + 5].string)
        return (tuple, ObservationCodec.decode(r[offset + 6].string ?? ""))
    }
}

extension RollupTuple {
    /// A tuple from stored dimension values, taken as they are.
    init(raw: [String]) {
        self.init(edition: nil, tier: nil, installationType: nil, versionMajor: nil, versionMinor: nil, registryVendor: nil)
        edition = raw[0]
        tier = raw[1]
        installationType = raw[2]
        version = raw[3]
        registryVendor = raw[4]
    }
}

/// Which metrics the rollups are maintained for: the catalog metrics whose stored definition
/// matches (built), and those that are stale (new or changed since their last rebuild).
struct RollupState {
    var active: [MetricDefinition]
    var stale: [String]
    /// Whether the installation counts and the latest-ping bookkeeping are built.
    var installationsBuilt: Bool

    static let installationsDefinition = "installations|1"

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
