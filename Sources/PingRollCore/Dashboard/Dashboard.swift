import FoundationEssentials

/// A dashboard definition from `dashboards/*.json`: panels the built-in UI draws from the API.
/// Decoding checks every vocabulary (chart, source, interval, dimension); `init(json:catalog:)`
/// then checks what only the catalog can say (metric keys, the members a metric's points have).
public struct Dashboard: Codable, Sendable, Equatable {
    /// How a panel draws.
    public enum Chart: String, Codable, Sendable, CaseIterable {
        case line, stackedBar = "stacked_bar", table, number
    }

    /// Where a panel's numbers come from.
    public enum Source: String, Codable, Sendable, CaseIterable {
        /// `/api/v1/series` (the default).
        case series
        /// `/api/v1/ingest`: pings per day of receipt (`recorded`: per day they describe).
        case ingest
        /// A beta program's timeline (`program` names it).
        case beta
        /// `/api/v1/pulls`: how the scheduled pulls (`serve --pull-config`) go, as a table.
        case pulls
        /// `/api/v1/instrumentation/metrics`: the slowest or most failing metrics, as a table.
        case instrumentationMetrics = "instrumentation_metrics"
        /// `/api/v1/instrumentation/errors`: submission failures by version, per day, or by message.
        case instrumentationErrors = "instrumentation_errors"
        /// A beta program's migration analytics (`program` names it).
        case betaAnalytics = "beta_analytics"
        /// `/api/v1/estimate`: a boolean metric's installations with true, the silent ones
        /// included (`method`, `lookback` as the API takes them).
        case estimate

        /// The values a panel of this source may plot (series: see `MetricValueType.pointMembers`).
        public var fixedValues: [String]? {
            switch self {
            case .series: nil
            case .estimate: ["estimated_true", "estimated_total", "silent"]
            case .ingest: ["accepted", "duplicates", "rejected", "recorded"]
            case .beta: ["status", "adoption"]
            case .pulls: ["status"]
            case .instrumentationMetrics: ["slowest", "failing"]
            case .instrumentationErrors: ["by_version", "per_day", "messages"]
            case .betaAnalytics: ["throughput", "downtime", "failures_by_phase", "failures_by_message", "funnel", "stuck", "feedback"]
            }
        }

        /// Whether a panel of this source plotting `value` must be a table.
        func isTable(_ value: String) -> Bool {
            switch self {
            case .pulls, .instrumentationMetrics: true
            case .instrumentationErrors: value == "messages"
            case .betaAnalytics: !["downtime", "failures_by_phase"].contains(value)
            default: false
            }
        }
    }

    public struct Query: Codable, Sendable, Equatable {
        public var source: Source
        public var program: String?
        public var metric: String?
        public var interval: PeriodKind?
        public var groupBy: Dimension?
        /// `DIM:VALUE` filters, as the series API takes them.
        public var filters: [String]?
        /// The point member plotted: `ratio`, `installations`, `true`, `sum`, `p50`, ... or `values`
        /// (one dataset per string value); for `ingest`: `accepted`, `duplicates`, `rejected`;
        /// for `beta`: `status` or `adoption`.
        public var value: String
        /// `estimate`: `last_value` (default) or `population`, and the lookback in periods.
        public var method: EstimateMethod?
        public var lookback: Int?

        enum CodingKeys: String, CodingKey { case source, program, metric, interval, groupBy = "group_by", filters, value, method, lookback }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            source = try c.decodeIfPresent(Source.self, forKey: .source) ?? .series
            program = try c.decodeIfPresent(String.self, forKey: .program)
            metric = try c.decodeIfPresent(String.self, forKey: .metric)
            interval = try c.decodeIfPresent(PeriodKind.self, forKey: .interval)
            groupBy = try c.decodeIfPresent(Dimension.self, forKey: .groupBy)
            filters = try c.decodeIfPresent([String].self, forKey: .filters)
            value = try c.decode(String.self, forKey: .value)
            method = try c.decodeIfPresent(EstimateMethod.self, forKey: .method)
            lookback = try c.decodeIfPresent(Int.self, forKey: .lookback)
        }
    }

    public struct Panel: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: String?
        public var chart: Chart
        public var query: Query
    }

    public var slug: String
    public var title: String
    public var description: String?
    /// Where the dashboard is listed (lowest first; without one, after those that have one, by
    /// file name). `/` opens the first.
    public var order: Int?
    public var panels: [Panel]

    /// Parses and checks a dashboard against the catalog.
    public init(json: [UInt8], catalog: MetricCatalog) throws(CatalogError) {
        let decoded: Dashboard
        do { decoded = try JSONDecoder().decode(Dashboard.self, from: Data(json)) } catch {
            throw .invalid("dashboard: \(DecodingProblem.describe(error))")
        }
        self = decoded
        guard !slug.isEmpty, slug.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { throw .invalid("dashboard slug `\(slug)` must be letters, digits and dashes") }
        var ids = Set<String>()
        for p in panels {
            let name = "\(slug)/\(p.id)"
            guard ids.insert(p.id).inserted else { throw .invalid("\(slug): panel id `\(p.id)` is used twice") }
            let q = p.query
            switch q.source {
            case .series:
                guard let key = q.metric, let metric = catalog.metric(key) else {
                    throw .invalid("\(name): metric `\(q.metric ?? "")` is not in the catalog")
                }
                let members = metric.valueType.pointMembers
                guard members.contains(q.value) else {
                    throw .invalid("\(name): value `\(q.value)` is not a member of a \(metric.valueType.rawValue) point (\(members.joined(separator: ", ")))")
                }
                do throws(QueryError) { _ = try SeriesQuery.filterArguments(q.filters ?? []) } catch {
                    throw .invalid("\(name): \(error.description)")
                }
            case .estimate:
                guard let key = q.metric, let metric = catalog.metric(key), metric.valueType == .boolean else {
                    throw .invalid("\(name): an estimate panel needs a boolean metric of the catalog (`\(q.metric ?? "")` is not one)")
                }
                guard q.source.fixedValues?.contains(q.value) == true, p.chart == .line || p.chart == .number else {
                    throw .invalid("\(name): an estimate panel is a line or number chart of estimated_true, estimated_total or silent")
                }
                if let interval = q.interval, interval == .day { throw .invalid("\(name): estimates are by week or month") }
                if let lookback = q.lookback, !(1...EstimateQuery.maxLookback).contains(lookback) {
                    throw .invalid("\(name): lookback must be from 1 to \(EstimateQuery.maxLookback) periods")
                }
                do throws(QueryError) { _ = try SeriesQuery.filterArguments(q.filters ?? []) } catch {
                    throw .invalid("\(name): \(error.description)")
                }
            case .ingest, .beta, .pulls, .instrumentationMetrics, .instrumentationErrors, .betaAnalytics:
                let allowed = q.source.fixedValues ?? []
                guard allowed.contains(q.value) else {
                    throw .invalid("\(name): a \(q.source.rawValue) panel plots \(allowed.joined(separator: " or ")), not `\(q.value)`")
                }
                if (q.source == .beta || q.source == .betaAnalytics) && q.program?.isEmpty != false { throw .invalid("\(name): a beta panel needs a program") }
                if q.source.isTable(q.value) && p.chart != .table { throw .invalid("\(name): a \(q.source.rawValue) \(q.value) panel is a table") }
                if !q.source.isTable(q.value) && p.chart == .table && (q.source == .instrumentationErrors || q.source == .betaAnalytics) {
                    throw .invalid("\(name): an instrumentation_errors \(q.value) panel is a chart")
                }
            }
        }
    }
}
