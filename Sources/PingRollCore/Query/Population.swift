/// The population of the `population` estimate: read from CSV (`period_start,dimension,value,
/// installations`), looked up per period and group.
public enum PopulationCSV {
    public static let columns = ["period_start", "dimension", "value", "installations"]
    public static let maxRows = 50_000
    public static let maxValueCharacters = 200
    public static let maxInstallations: Int64 = 1_000_000_000

    /// A problem with the CSV, naming its row (the header is row 1, as a spreadsheet counts) and column.
    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var row: Int
        public var column: String?
        public var message: String

        public var description: String { "row \(row)\(column.map { ", column `\($0)`" } ?? ""): \(message)" }
    }

    /// Every row checked; the first problem stops it. Linear in the text.
    public static func parse(_ text: String) throws(Problem) -> [PopulationRow] {
        var reader = CSV.Reader(text)
        var rowNumber = 1
        func next() throws(Problem) -> [String]? {
            do throws(QueryError) { return try reader.next() } catch { throw Problem(row: rowNumber, column: nil, message: error.message) }
        }
        guard let header = try next() else { throw Problem(row: 1, column: nil, message: "the CSV is empty; give the header \(columns.joined(separator: ","))") }
        var position: [String: Int] = [:]
        for (i, name) in header.enumerated() {
            let name = i == 0 && name.hasPrefix("\u{FEFF}") ? String(name.dropFirst()) : name
            guard columns.contains(name) else {
                throw Problem(row: 1, column: name, message: "is not a population column (\(columns.joined(separator: ", ")))")
            }
            guard position[name] == nil else { throw Problem(row: 1, column: name, message: "is given twice") }
            position[name] = i
        }
        if let missing = columns.first(where: { position[$0] == nil }) {
            throw Problem(row: 1, column: missing, message: "is missing from the header (\(columns.joined(separator: ",")))")
        }
        var rows: [PopulationRow] = []
        var seen = Set<String>()
        while let fields = try next() {
            rowNumber += 1
            if fields.count == 1 && fields[0].isEmpty { continue }
            guard fields.count == header.count else {
                throw Problem(row: rowNumber, column: nil, message: "has \(fields.count) fields; the header has \(header.count)")
            }
            guard rows.count < maxRows else { throw Problem(row: rowNumber, column: nil, message: "more than \(maxRows) rows") }
            func field(_ name: String) -> String { fields[position[name]!] }
            let dateText = field("period_start")
            guard let start = days(isoDate: dateText.utf8.count == 7 ? dateText + "-01" : dateText) else {
                throw Problem(row: rowNumber, column: "period_start", message: "must be a date YYYY-MM-DD or a month YYYY-MM (got \(shown(dateText)))")
            }
            let dimension = field("dimension")
            guard dimension == "all" || Dimension(rawValue: dimension) != nil else {
                throw Problem(row: rowNumber, column: "dimension", message: "must be all or one of \(RollupTuple.dimensions.joined(separator: ", ")) (got \(shown(dimension)))")
            }
            var value = field("value")
            if dimension == "all" {
                guard value.isEmpty || value == "all" else {
                    throw Problem(row: rowNumber, column: "value", message: "must be all or empty for the dimension all (got \(shown(value)))")
                }
                value = "all"
            } else {
                guard !value.isEmpty else { throw Problem(row: rowNumber, column: "value", message: "is empty: name the \(dimension) it counts") }
                guard value.count <= maxValueCharacters, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                    throw Problem(row: rowNumber, column: "value", message: "must be at most \(maxValueCharacters) characters without control characters")
                }
            }
            let countText = field("installations")
            guard countText.utf8.count <= 10, countText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let count = Int64(countText),
                  (1...maxInstallations).contains(count) else {
                throw Problem(row: rowNumber, column: "installations", message: "must be a whole number from 1 to \(maxInstallations) (got \(shown(countText)))")
            }
            guard seen.insert("\(start)\u{0}\(dimension)\u{0}\(value)").inserted else {
                throw Problem(row: rowNumber, column: nil, message: "repeats period_start \(isoDate(days: start)), dimension \(dimension), value \(value)")
            }
            rows.append(PopulationRow(periodStart: start, dimension: dimension, value: value, installations: count))
        }
        return rows
    }

    /// A field as an error message shows it: short, without control characters.
    static func shown(_ text: String) -> String {
        if text.isEmpty { return "nothing" }
        let clean = String(String.UnicodeScalarView(text.unicodeScalars.prefix(40).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return text.unicodeScalars.count > 40 ? clean + "…" : clean
    }
}

/// The population by dimension and value, for lookups per period.
public struct PopulationTable: Sendable {
    var starts: [String: [(start: Int64, installations: Int64)]] = [:]

    public init(_ rows: [PopulationRow]) {
        for r in rows { starts["\(r.dimension)\u{0}\(r.value)", default: []].append((r.periodStart, r.installations)) }
        for key in starts.keys { starts[key]!.sort { $0.start < $1.start } }
    }

    /// The row of `dimension` = `value` that holds for the period starting on `periodStart`:
    /// the latest starting on or before it, at most `PopulationRow.validDays` before.
    public func installations(dimension: String, value: String, periodStart: Int64) -> Int64? {
        guard let list = starts["\(dimension)\u{0}\(value)"] else { return nil }
        var low = 0, high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].start <= periodStart { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let row = list[low - 1]
        return periodStart - row.start <= PopulationRow.validDays ? row.installations : nil
    }
}

/// `GET /api/v1/estimate`: a series query of a boolean metric by week or month, and the method.
public struct EstimateQuery: Sendable, Equatable {
    public var series: SeriesQuery
    public var method: EstimateMethod
    /// How many periods back a silent installation's last ping may lie.
    public var lookback: Int

    public static let maxPeriods = 160
    public static let maxLookback = 52

    public init(series: SeriesQuery, method: EstimateMethod = .lastValue, lookback: Int? = nil) {
        self.series = series
        self.method = method
        self.lookback = lookback ?? Self.defaultLookback(series.interval)
    }

    /// 8 weeks or 3 months.
    public static func defaultLookback(_ interval: PeriodKind) -> Int { interval == .month ? 3 : 8 }

    public static func parse(_ arguments: [(String, String)], catalog: MetricCatalog) throws(QueryError) -> EstimateQuery {
        func value(_ name: String) -> String? { arguments.last { $0.0 == name }?.1 }
        // The series' own checks first (metric, dates, group_by, filters), then the estimate's.
        let metric = try SeriesQuery.metricArgument(value("metric"), catalog)
        guard metric.valueType == .boolean else {
            throw QueryError("metric", "`\(metric.keyPath)` is a \(metric.valueType.rawValue) metric; estimates count installations by a boolean metric's true")
        }
        if let interval = value("interval"), interval != "week" && interval != "month" {
            throw QueryError("interval", "must be week or month (got \(interval.isEmpty ? "nothing" : interval))")
        }
        let series = try SeriesQuery.parse(arguments, catalog: catalog)
        guard series.periodStarts.count <= maxPeriods else {
            throw QueryError("from", "the range holds more than \(maxPeriods) \(series.interval.rawValue)s; narrow it or use months")
        }
        let methodText = value("method") ?? EstimateMethod.lastValue.rawValue
        guard let method = EstimateMethod(rawValue: methodText) else {
            throw QueryError("method", "must be last_value or population (got \(methodText.isEmpty ? "nothing" : methodText))")
        }
        var lookback: Int?
        if let text = value("lookback") {
            guard text.utf8.count <= 3, let n = Int(text), (1...maxLookback).contains(n) else {
                throw QueryError("lookback", "must be a whole number of periods from 1 to \(maxLookback) (got \(text.isEmpty ? "nothing" : text))")
            }
            lookback = n
        }
        return EstimateQuery(series: series, method: method, lookback: lookback)
    }

    /// Where the population of each group is read (dimension and value), or why it does not
    /// apply: the population is given per one dimension, so the query may group or filter by
    /// that dimension only (GitLab's internal installations, excluded by default, are not in a
    /// billing population either, so that default does not count).
    public func populationKey(group: String) -> (dimension: String, value: String)? {
        let filters = series.filters
        if let by = series.groupBy {
            guard filters.keys.allSatisfy({ $0 == by }) else { return nil }
            return (by.rawValue, group)
        }
        if filters.isEmpty { return ("all", "all") }
        guard filters.count == 1, let (dimension, values) = filters.first, values.count == 1 else { return nil }
        return (dimension.rawValue, values.first!)
    }
}
