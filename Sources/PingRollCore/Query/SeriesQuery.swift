/// A bad query parameter; the message names it.
public struct QueryError: Error, Equatable, Sendable, CustomStringConvertible {
    public let parameter: String
    public let message: String

    public init(_ parameter: String, _ message: String) {
        self.parameter = parameter
        self.message = message
    }

    public var description: String { "`\(parameter)`: \(message)" }
}

/// `GET /api/v1/series` and `GET /api/v1/breakdown` parameters, checked against the catalog.
public struct SeriesQuery: Sendable, Equatable {
    public var metric: MetricDefinition
    public var interval: PeriodKind
    /// First and last day asked for (inclusive); periods overlapping them are reported whole.
    public var from: Int64
    public var to: Int64
    public var groupBy: Dimension?
    /// Dimension → accepted values: OR within a dimension, AND across dimensions.
    public var filters: [Dimension: Set<String>]
    /// Whether GitLab's internal installations count (`include_internal=true`); by default they
    /// do not, unless a filter on `internal` says otherwise.
    public var includeInternal: Bool

    /// At most this many periods per query.
    public static let maxPeriods = 1_000

    public init(metric: MetricDefinition, interval: PeriodKind, from: Int64, to: Int64, groupBy: Dimension? = nil,
                filters: [Dimension: Set<String>] = [:], includeInternal: Bool = false) {
        self.metric = metric
        self.interval = interval
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.filters = filters
        self.includeInternal = includeInternal
    }

    /// The filters as applied: `filters`, plus `internal:false` unless internal installations
    /// are included or `internal` is filtered explicitly.
    public var effectiveFilters: [Dimension: Set<String>] {
        Self.applyingInternalDefault(filters, includeInternal: includeInternal)
    }

    public static func applyingInternalDefault(_ filters: [Dimension: Set<String>], includeInternal: Bool) -> [Dimension: Set<String>] {
        guard !includeInternal, filters[.internal] == nil else { return filters }
        var result = filters
        result[.internal] = ["false"]
        return result
    }

    /// `include_internal=true|false` (default false).
    public static func includeInternalArgument(_ text: String?) throws(QueryError) -> Bool {
        switch text {
        case nil, "false"?: return false
        case "true"?: return true
        // An empty value is refused like any other: it says neither, and the spec's enum has no "".
        case let other?: throw QueryError("include_internal", "must be true or false (got \(other.isEmpty ? "nothing" : other))")
        }
    }

    /// Parses a series query from URL query arguments.
    public static func parse(_ arguments: [(String, String)], catalog: MetricCatalog) throws(QueryError) -> SeriesQuery {
        func value(_ name: String) -> String? { arguments.last { $0.0 == name }?.1 }
        let metric = try metricArgument(value("metric"), catalog)
        guard let intervalText = value("interval") else { throw QueryError("interval", "is required: day, week or month") }
        guard let interval = PeriodKind(rawValue: intervalText) else {
            throw QueryError("interval", "must be day, week or month (got \(intervalText))")
        }
        guard let fromText = value("from") else { throw QueryError("from", "is required (YYYY-MM-DD)") }
        guard let from = days(isoDate: fromText) else { throw QueryError("from", "must be a date YYYY-MM-DD (got \(fromText))") }
        guard let toText = value("to") else { throw QueryError("to", "is required (YYYY-MM-DD)") }
        guard let to = days(isoDate: toText) else { throw QueryError("to", "must be a date YYYY-MM-DD (got \(toText))") }
        guard from <= to else { throw QueryError("to", "must not be before `from`") }
        let query = SeriesQuery(metric: metric, interval: interval, from: from, to: to,
                                groupBy: try groupByArgument(value("group_by")),
                                filters: try filterArguments(arguments.filter { $0.0 == "filter" }.map(\.1)),
                                includeInternal: try includeInternalArgument(value("include_internal")))
        guard query.periodStarts.count <= maxPeriods else {
            throw QueryError("from", "the range holds more than \(maxPeriods) \(interval.rawValue)s; narrow it or use a longer interval")
        }
        return query
    }

    static func metricArgument(_ text: String?, _ catalog: MetricCatalog) throws(QueryError) -> MetricDefinition {
        guard let text, !text.isEmpty else { throw QueryError("metric", "is required: a key_path from /api/v1/catalog") }
        guard let metric = catalog.metric(text) else { throw QueryError("metric", "`\(text)` is not in the catalog") }
        return metric
    }

    static func groupByArgument(_ text: String?) throws(QueryError) -> Dimension? {
        guard let text else { return nil }
        // Empty is refused too: `group_by=` names no dimension (leave the parameter out for one series).
        guard let dimension = Dimension(rawValue: text) else {
            throw QueryError("group_by", "must be one of \(RollupTuple.dimensions.joined(separator: ", ")) (got \(text.isEmpty ? "nothing" : text))")
        }
        return dimension
    }

    /// `filter=DIM:VALUE[,DIM:VALUE...]`, possibly repeated.
    public static func filterArguments(_ texts: [String]) throws(QueryError) -> [Dimension: Set<String>] {
        var filters: [Dimension: Set<String>] = [:]
        for text in texts {
            guard !text.isEmpty else { throw QueryError("filter", "is empty; give DIMENSION:VALUE[,DIMENSION:VALUE...]") }
            for clause in text.splitting(atASCII: UInt8(ascii: ",")) {
                let parts = clause.splitting(atASCII: UInt8(ascii: ":"), maxSplits: 1, omittingEmpty: false)
                guard parts.count == 2 else { throw QueryError("filter", "`\(clause)` must be DIMENSION:VALUE") }
                let value = parts[1]
                guard let dimension = Dimension(rawValue: parts[0]) else {
                    throw QueryError("filter", "`\(parts[0])` is not a dimension (\(RollupTuple.dimensions.joined(separator: ", ")))")
                }
                guard !value.isEmpty else { throw QueryError("filter", "`\(clause)` has no value") }
                filters[dimension, default: []].insert(value)
            }
        }
        return filters
    }

    /// The start (day number) of every period overlapping `from...to`.
    public var periodStarts: [Int64] {
        var starts: [Int64] = []
        var start = interval.start(of: Timestamp(milliseconds: from * 86_400_000))
        while start <= to && starts.count <= Self.maxPeriods {
            starts.append(start)
            start = interval.next(after: start)
        }
        return starts
    }

    func accepts(_ tuple: RollupTuple) -> Bool { Self.tuple(tuple, passes: effectiveFilters) }

    /// Whether a tuple passes `filters`: OR within a dimension, AND across dimensions.
    public static func tuple(_ tuple: RollupTuple, passes filters: [Dimension: Set<String>]) -> Bool {
        filters.allSatisfy { dimension, values in values.contains(tuple.value(of: dimension)) }
    }
}
