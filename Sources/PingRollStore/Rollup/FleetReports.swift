import PingRollCore

/// What the estimates read: per period, what each installation's latest ping said of a boolean
/// metric; and the uploaded population.
public protocol FleetReading: AnyObject, Sendable {
    /// Every installation with a ping in the `interval` period starting on `periodStart`, with
    /// its latest ping's group and state (the cells the rollups count it in), in installation id
    /// order; `counted` says whether the ping passes `filters`. Read 500 rows per transaction.
    func fleetReports(metric: MetricDefinition, interval: PeriodKind, periodStart: Int64, groupBy: Dimension?,
                      filters: [Dimension: Set<String>]) throws(StorageError) -> [FleetReport]
    /// The first and last period of `interval` with any ping; nil when there is none.
    func fleetPeriodRange(interval: PeriodKind) throws(StorageError) -> ClosedRange<Int64>?
    /// The installations with these ids (those that exist), in id order.
    func installations(ids: [Int64]) throws(StorageError) -> [InstallationRecord]
    /// The population, ordered by dimension, value and period start.
    func population() throws(StorageError) -> [PopulationRow]
    /// Replaces the whole population in one transaction.
    func replacePopulation(_ rows: [PopulationRow]) throws(StorageError)
}

enum FleetSQL {
    static let columns = ColumnList([("installation_id", "l.installation_id")] + RollupSQL.contributionColumns.names.map { ($0, "p." + $0) })
    static let populationColumns = ColumnList(["period_start", "dimension", "value", "installations"])
    static let pageSize = 500
}

extension SQLBackedStore {
    public func fleetReports(metric: MetricDefinition, interval: PeriodKind, periodStart: Int64, groupBy: Dimension?,
                             filters: [Dimension: Set<String>]) throws(StorageError) -> [FleetReport] {
        let op = "reading the installations of a period"
        let contributor = RollupContributor(metrics: [metric])
        var reports: [FleetReport] = []
        var after: Int64 = 0
        while true {
            let page = try read { e throws(StorageError) -> Int in
                let admission = StringAdmission(executor: e, readOnly: true)
                let rows = try FleetSQL.columns.select(e, """
                    FROM rollup_latest l JOIN pings p ON p.id = l.ping_id AND p.recorded_at = l.recorded_at
                    WHERE l.period = $1 AND l.period_start = $2 AND l.installation_id > $3
                    ORDER BY l.installation_id LIMIT \(FleetSQL.pageSize)
                    """, [.integer(Int64(interval.code)), .integer(periodStart), .integer(after)], operation: op)
                for r in rows {
                    let installation = try r.requiredInt64("installation_id")
                    after = installation
                    let (tuple, observations) = try RollupSQL.contribution(r)
                    let names = try contributor.cellNames(observations, period: interval, admission: admission)
                    let state = names.lazy.map(FleetState.init(cell:)).first { $0 != .unknown } ?? .unknown
                    reports.append(FleetReport(installation: installation, group: groupBy.map { tuple.value(of: $0) } ?? "all",
                                               counted: SeriesQuery.tuple(tuple, passes: filters), state: state))
                }
                return rows.count
            }
            if page < FleetSQL.pageSize { return reports }
        }
    }

    public func fleetPeriodRange(interval: PeriodKind) throws(StorageError) -> ClosedRange<Int64>? {
        let op = "reading the range of the periods"
        return try read { e throws(StorageError) -> ClosedRange<Int64>? in
            let rows = try ColumnList([("first", "MIN(period_start)"), ("last", "MAX(period_start)")])
                .select(e, "FROM rollup_latest WHERE period = $1", [.integer(Int64(interval.code))], operation: op)
            guard let r = rows.first, let first = try r.int64("first"), let last = try r.int64("last"), first <= last else { return nil }
            return first...last
        }
    }

    public func installations(ids: [Int64]) throws(StorageError) -> [InstallationRecord] {
        try read { e throws(StorageError) in try InstallationSQL.byIDs(e, ids).sorted { $0.id < $1.id } }
    }

    public func population() throws(StorageError) -> [PopulationRow] {
        let op = "reading the population"
        return try read { e throws(StorageError) in
            try FleetSQL.populationColumns.select(e, "FROM population ORDER BY dimension, value, period_start", [], operation: op).map { r throws(StorageError) in
                PopulationRow(periodStart: try r.requiredInt64("period_start"), dimension: try r.requiredString("dimension"),
                              value: try r.requiredString("value"), installations: try r.requiredInt64("installations"))
            }
        }
    }

    public func replacePopulation(_ rows: [PopulationRow]) throws(StorageError) {
        let op = "replacing the population"
        try writeTransaction(op) { e throws(StorageError) in
            try e.query("DELETE FROM population", [], operation: op)
            for row in rows {
                try e.query("INSERT INTO population (period_start, dimension, value, installations) VALUES ($1, $2, $3, $4)",
                            [.integer(row.periodStart), .text(row.dimension), .text(row.value), .integer(row.installations)], operation: op)
            }
        }
    }
}
