import FoundationEssentials

/// A dashboard definition from `dashboards/*.json`: panels the built-in UI draws from the API.
public struct Dashboard: Codable, Sendable, Equatable {
    public struct Query: Codable, Sendable, Equatable {
        /// `series` (default): `/api/v1/series`; `ingest`: `/api/v1/ingest`; `beta`: a beta
        /// program's timeline (`program` names it; value `status` or `adoption`).
        public var source: String?
        public var program: String?
        public var metric: String?
        public var interval: PeriodKind?
        public var groupBy: String?
        public var filters: [String]?
        /// The point field plotted: `ratio`, `installations`, `true`, `sum`, `p50`, ... or `values`
        /// (one dataset per string value); for `ingest`: `accepted`, `duplicates`, `rejected`.
        public var value: String

        enum CodingKeys: String, CodingKey { case source, program, metric, interval, groupBy = "group_by", filters, value }
    }

    public struct Panel: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: String?
        /// `line`, `stacked_bar`, `table` or `number`.
        public var chart: String
        public var query: Query
    }

    public var slug: String
    public var title: String
    public var description: String?
    public var panels: [Panel]

    static let charts: Set<String> = ["line", "stacked_bar", "table", "number"]

    /// Parses and checks a dashboard against the catalog.
    public init(json: [UInt8], catalog: MetricCatalog) throws(CatalogError) {
        let decoded: Dashboard
        do { decoded = try JSONDecoder().decode(Dashboard.self, from: Data(json)) } catch {
            throw .invalid("dashboard: \(error)")
        }
        self = decoded
        guard !slug.isEmpty, slug.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { throw .invalid("dashboard slug `\(slug)` must be letters, digits and dashes") }
        var ids = Set<String>()
        for p in panels {
            guard ids.insert(p.id).inserted else { throw .invalid("\(slug): panel id `\(p.id)` is used twice") }
            guard Self.charts.contains(p.chart) else { throw .invalid("\(slug)/\(p.id): chart must be one of \(Self.charts.sorted())") }
            switch p.query.source ?? "series" {
            case "series":
                guard let metric = p.query.metric, catalog.metric(metric) != nil else {
                    throw .invalid("\(slug)/\(p.id): metric `\(p.query.metric ?? "")` is not in the catalog")
                }
                if let g = p.query.groupBy, !RollupTuple.dimensions.contains(g) { throw .invalid("\(slug)/\(p.id): group_by `\(g)` is not a dimension") }
            case "ingest":
                guard ["accepted", "duplicates", "rejected"].contains(p.query.value) else { throw .invalid("\(slug)/\(p.id): ingest value must be accepted, duplicates or rejected") }
            case "beta":
                guard p.query.program?.isEmpty == false, ["status", "adoption"].contains(p.query.value) else {
                    throw .invalid("\(slug)/\(p.id): a beta panel needs a program and the value status or adoption")
                }
            case let other:
                throw .invalid("\(slug)/\(p.id): source `\(other)` must be series, ingest or beta")
            }
        }
    }
}
