import PingRollCore
import PingRollStore

/// Reads for dashboards and the API: series, installations and drill-down, ingest health,
/// instrumentation, tokens. Each method says what bounds its cost.
public final class QueryService: Sendable {
    let store: any PingStore

    init(store: any PingStore) { self.store = store }

    /// The catalog in use.
    public var catalog: MetricCatalog? { store.catalog }

    /// The token's stored record, if it is valid and not revoked. One indexed lookup.
    public func authenticate(_ token: BearerToken) throws(StorageError) -> TokenInfo? { try store.authenticate(token) }

    /// Rollup cells of the query's periods (at most `SeriesQuery.maxPeriods` periods × its
    /// groups), each point with `expected`: the installations of the period before it, read
    /// with one more query of that one period.
    public func series(_ query: SeriesQuery) throws(StorageError) -> [SeriesGroup] {
        var groups = try store.series(query)
        guard let first = query.periodStarts.first else { return groups }
        var before = query
        before.from = query.interval.previous(before: first)
        before.to = before.from
        let previous = Dictionary(try store.series(before).map { ($0.group, $0.points.first?.installations ?? 0) }, uniquingKeysWith: +)
        for g in groups.indices {
            var last = previous[groups[g].group] ?? 0
            for p in groups[g].points.indices {
                groups[g].points[p].expected = last
                last = groups[g].points[p].installations
            }
        }
        return groups
    }

    /// Estimates including the silent installations (`EstimateQuery`): reads each period of the
    /// range, and the `lookback` periods before it, one at a time (every installation's latest
    /// ping of the period, 500 per read transaction); memory follows the installations, not the
    /// pings. Every group seen in the range has a point in every period.
    public func estimate(_ query: EstimateQuery) throws(StorageError) -> [EstimateGroup] {
        let q = query.series
        let starts = q.periodStarts
        guard let first = starts.first else { return [] }
        let filters = q.effectiveFilters
        let population = query.method == .population ? PopulationTable(try store.population()) : nil
        var timeline = FleetTimeline(lookback: query.lookback)
        for s in q.interval.starts(before: first, count: query.lookback) {
            _ = timeline.advance(start: s, reports: try store.fleetReports(metric: q.metric, interval: q.interval, periodStart: s,
                                                                          groupBy: q.groupBy, filters: filters))
        }
        func populationOf(_ group: String, _ start: Int64) -> Int64? {
            guard let key = query.populationKey(group: group) else { return nil }
            return population?.installations(dimension: key.dimension, value: key.value, periodStart: start)
        }
        var byPeriod: [[String: EstimatePoint]] = []
        for s in starts {
            let period = timeline.advance(start: s, reports: try store.fleetReports(metric: q.metric, interval: q.interval, periodStart: s,
                                                                                  groupBy: q.groupBy, filters: filters))
            byPeriod.append(FleetTimeline.estimate(period, method: query.method, lookback: query.lookback, population: { populationOf($0, s) }))
        }
        let groups = Set(byPeriod.flatMap(\.keys)).sorted()
        return groups.map { group in
            var points: [EstimatePoint] = []
            for (i, s) in starts.enumerated() {
                if let point = byPeriod[i][group] { points.append(point); continue }
                // Nobody in the group this period: nothing to add to nothing.
                var empty = EstimatePoint(period: s)
                empty.expected = i > 0 ? points[i - 1].reported : nil
                switch query.method {
                case .lastValue: Estimator.lastValue(&empty, silent: .init(lookback: query.lookback), transitions: [])
                case .population: Estimator.population(&empty, population: populationOf(group, s))
                }
                points.append(empty)
            }
            return EstimateGroup(group: group, points: points)
        }
    }

    /// The uploaded population.
    public func population() throws(StorageError) -> [PopulationRow] { try store.population() }

    public enum RawPing: Sendable {
        case payload([UInt8])
        case dropped(recordedAt: Timestamp)
    }

    /// A ping's payload as posted, if the ping belongs to `uuid`. One ping.
    public func rawPing(uuid: String, id: Int64) throws(StorageError) -> RawPing? {
        guard let ping = try store.ping(id: id), ping.installation.uuid == uuid else { return nil }
        return ping.payloadDropped ? .dropped(recordedAt: ping.recordedAt) : .payload(ping.payload)
    }

    /// A page of installations after `cursor` that pass `filters`, in id order. Reads pages of
    /// 500 rows until `limit` pass (a filter that matches little reads more pages).
    public func installationPage(filters: [Dimension: Set<String>], cursor: Int64, limit: Int) throws(StorageError) -> InstallationPage {
        var found: [InstallationRecord] = []
        var after = cursor
        var exhausted = false
        while found.count < limit && !exhausted {
            let page = try store.installations(after: after, limit: 500)
            exhausted = page.count < 500
            for record in page {
                after = record.id
                if SeriesQuery.tuple(record.tuple, passes: filters) {
                    found.append(record)
                    if found.count == limit { break }
                }
            }
        }
        var more = !exhausted
        if !more { more = try !store.installations(after: after, limit: 1).isEmpty }
        return InstallationPage(installations: found.map(InstallationBody.init), nextCursor: more ? "\(after)" : nil)
    }

    /// Exactly the installations a series cell counts, a page of `limit` after `cursor` (see
    /// `CellMembersReading`). `argument` gives the request's `metric`, `value`, `interval`,
    /// `period`; a missing or invalid one is a 400 naming it.
    public func cellInstallations(_ argument: (String) -> String?, filters: [Dimension: Set<String>], limit: Int,
                                  cursor: Int64) throws -> CellInstallationsBody {
        guard let catalog = store.catalog else { throw ServiceError(503, "no_catalog", "this pingroll keeps no rollups (no catalog)") }
        func required(_ name: String, _ hint: String) throws(ServiceError) -> String {
            guard let text = argument(name) else {
                throw .invalidParameter("`\(name)`: is required with `metric`, `value`, `interval` and `period` (\(hint))")
            }
            return text
        }
        let key = try required("metric", "a key_path from /api/v1/catalog")
        guard let metric = catalog.metric(key) else { throw ServiceError.invalidParameter("`metric`: `\(key)` is not in the catalog") }
        let intervalText = try required("interval", "day, week or month")
        guard let interval = PeriodKind(rawValue: intervalText) else {
            throw ServiceError.invalidParameter("`interval`: must be day, week or month (got \(intervalText))")
        }
        guard metric.periods.contains(interval) else {
            throw ServiceError.invalidParameter("`interval`: \(key) is rolled up by \(metric.periods.map(\.rawValue).joined(separator: ", ")) only")
        }
        let periodText = try required("period", "the period's first day, YYYY-MM-DD, as the series' `period`")
        guard let day = days(isoDate: periodText) else {
            throw ServiceError.invalidParameter("`period`: must be a date YYYY-MM-DD (got \(periodText))")
        }
        let start = interval.start(of: Timestamp(milliseconds: day &* 86_400_000))
        guard start == day else {
            throw ServiceError.invalidParameter("`period`: \(periodText) is not the first day of a \(interval.rawValue); that \(interval.rawValue) starts \(isoDate(days: start))")
        }
        let valueText = try required("value", "installations, or one of the point's cells")
        guard let selector = CellSelector.parse(valueText, type: metric.valueType) else {
            let cells = (["installations"] + CellSelector.fixed(for: metric.valueType).map(\.rawValue)).joined(separator: ", ")
            throw ServiceError.invalidParameter("`value`: a \(metric.valueType.rawValue) metric's cells are \(cells) (got \(valueText))")
        }
        let page = try store.cellMembers(CellMembersQuery(metric: metric, interval: interval, periodStart: start, selector: selector,
                                                          filters: filters, after: cursor, limit: limit))
        return CellInstallationsBody(metric: key, interval: interval, periodStart: start, selector: selector, page)
    }

    /// Every hostname of the uuid; nil when it has none.
    public func installation(uuid: String) throws(StorageError) -> InstallationList? {
        let records = try store.installations(uuid: uuid)
        return records.isEmpty ? nil : InstallationList(installations: records.map(InstallationBody.init))
    }

    /// Its facts per ping (newest first, at most `limit`), its reports, its enrollments; nil
    /// when the uuid has no installation.
    public func installationHistory(uuid: String, limit: Int) throws(StorageError) -> InstallationHistoryBody? {
        let records = try store.installations(uuid: uuid)
        guard !records.isEmpty else { return nil }
        let reports = try store.clientReports(uuid: uuid, limit: limit)
        return InstallationHistoryBody(installations: records, pings: try store.pingFacts(uuid: uuid, limit: limit),
                                       metadata: reports.metadata, errors: reports.errors, enrollments: try store.enrollments(uuid: uuid))
    }

    /// Ingest per day of receipt in `fromDay...toDay`: grouped counts, one row a day.
    public func ingestHealth(fromDay: Int64, toDay: Int64) throws(StorageError) -> IngestHealthBody {
        IngestHealthBody(try store.ingestHealth(fromDay: fromDay, toDay: toDay), fromDay: fromDay, toDay: toDay,
                         quarantineMaxBytes: store.quarantineMaxBytes)
    }

    /// See `InstrumentationHealth.metricsReport`: the latest reports' metric rows, never their bytes.
    public func instrumentationMetrics(fromDay: Int64, toDay: Int64, version: (major: Int, minor: Int)?, prefix: String?,
                                       limit: Int) throws(StorageError) -> InstrumentationMetricsBody {
        let report = try InstrumentationHealth.metricsReport(store, from: Timestamp(milliseconds: fromDay * 86_400_000),
                                                             to: Timestamp(milliseconds: (toDay + 1) * 86_400_000), version: version, prefix: prefix)
        return InstrumentationMetricsBody(fromDay: fromDay, toDay: toDay, version: version.map { "\($0.major).\($0.minor)" }, name: prefix,
                                          report.metrics, limit: limit, truncated: report.truncated)
    }

    /// Error reports of the window grouped by message: reads the window's reports a page at a
    /// time (their messages, not their bodies).
    public func instrumentationErrors(fromDay: Int64, toDay: Int64, limit: Int) throws(StorageError) -> InstrumentationErrorsBody {
        let (groups, perDay) = try InstrumentationHealth.errors(store, from: Timestamp(milliseconds: fromDay * 86_400_000),
                                                                to: Timestamp(milliseconds: (toDay + 1) * 86_400_000))
        return InstrumentationErrorsBody(fromDay: fromDay, toDay: toDay, groups, perDay: perDay, limit: limit)
    }
}
