/// The numbers of one group in one period, summed over the dimension tuples it covers.
public struct SeriesPoint: Equatable, Sendable {
    public var period: Int64
    public var installations: Int64 = 0
    /// Installations with a ping in the previous period of the same kind (same group and
    /// filters): how many this period may still expect; nil when not read.
    public var expected: Int64?
    /// The metric's cells by name (`true`, `reporting`, `b:+3`, `v:3.85.0-gitlab`, ...).
    public var cells: [String: CellValue] = [:]

    public init(period: Int64) { self.period = period }

    public func count(_ cell: String) -> Int64 { cells[cell]?.count ?? 0 }

    /// Of the installations counted `unknown`, those on a GitLab version older than the metric's
    /// `since_version` (they cannot send it); kept as a cell of this name, summed at read time.
    public static let notEligibleCell = "not_eligible"
    public var notEligible: Int64 { count(Self.notEligibleCell) }
    public func count(_ cell: Cell) -> Int64 { count(cell.rawValue) }

    /// true / (true + false), nil when neither was reported.
    public var ratio: Double? {
        let t = count(Cell.true), f = count(Cell.false)
        return t + f == 0 ? nil : Double(t) / Double(t + f)
    }

    public var sum: Double { cells[Cell.reporting.rawValue]?.sum ?? 0 }

    /// The q-quantile (0...1) of the reported numbers, estimated from the log-scale buckets as
    /// the geometric middle of the bucket holding it (within ~10 %); nil when none reported.
    public func quantile(_ q: Double) -> Double? {
        let buckets = cells.compactMap { name, value -> (Double, Double, Int64)? in
            guard let b = LogBuckets.bounds(of: name), value.count > 0 else { return nil }
            return (b.low, b.high, value.count)
        }.sorted { $0.0 < $1.0 }
        let total = buckets.reduce(Int64(0)) { $0 &+ $1.2 }
        guard total > 0 else { return nil }
        let rank = max(1, Int64(exactly: (min(max(q, 0), 1) * Double(total)).rounded(.up)) ?? total)
        var seen: Int64 = 0
        for (low, high, count) in buckets {
            seen &+= count
            if seen >= rank {
                if low == 0 && high == 0 { return 0 }
                let middle = (abs(low) * abs(high)).squareRoot()
                return low < 0 ? -middle : middle
            }
        }
        return nil
    }

    /// String values and their counts, each under the key drill-down takes back as `value=`
    /// (`valueKey`): a value as it is, and the folded remainder as `other`.
    public var values: [(String, Int64)] {
        cells.compactMap { name, value -> (String, Int64)? in
            guard value.count != 0 else { return nil }
            if name.hasPrefix("v:") { return (Self.valueKey(String(name.dropFirst(2))), value.count) }
            if name == RollupContributor.otherCell { return (name, value.count) }
            return nil
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    /// What a string metric's point never lists a value as: its fixed cells and `installations`.
    public static let reservedValueKeys: Set<String> = Set([Cell.other, .failed, .unknown, .notCollected].map(\.rawValue) + ["installations"])

    /// The key a string value is listed under: the value itself, unless it reads like a fixed
    /// cell (`other`, `unknown`, ...), starts with `v:` or is empty; then `v:` + the value. A
    /// real value and the folded remainder therefore never share a key, and drill-down with a
    /// listed key (`CellSelector.parse`) returns exactly the installations counted under it.
    public static func valueKey(_ value: String) -> String {
        value.isEmpty || value.hasPrefix("v:") || reservedValueKeys.contains(value) ? "v:" + value : value
    }
}

/// One group's points, one per period of the range.
public struct SeriesGroup: Equatable, Sendable {
    public var group: String
    public var points: [SeriesPoint]
}

/// Answers series queries by summing rollup cells over tuples; never reads raw pings.
public enum Series {
    /// Sums cells over the tuples the query's filters accept, per group and period.
    public static func compute(_ query: SeriesQuery, cells: [CellKey: CellValue]) -> [SeriesGroup] {
        let filters = query.effectiveFilters
        let rows = cells.compactMap { key, value -> GroupedCell? in
            guard key.period == query.interval, SeriesQuery.tuple(key.tuple, passes: filters) else { return nil }
            return GroupedCell(group: query.groupBy.map { key.tuple.value(of: $0) } ?? "all", periodStart: key.periodStart,
                               metric: key.metric, cell: key.cell, value: value)
        }
        // Unknowns from versions before the metric existed, summed as their own cell.
        let notEligible = cells.compactMap { key, value -> GroupedCell? in
            guard key.period == query.interval, key.metric == query.metric.keyPath, key.cell == Cell.unknown.rawValue,
                  query.metric.isBeforeSince(key.tuple.version), SeriesQuery.tuple(key.tuple, passes: filters) else { return nil }
            return GroupedCell(group: query.groupBy.map { key.tuple.value(of: $0) } ?? "all", periodStart: key.periodStart,
                               metric: key.metric, cell: SeriesPoint.notEligibleCell, value: CellValue(count: value.count))
        }
        return compute(query, grouped: rows + notEligible)
    }

    /// Builds the series from cells already filtered and summed per group (e.g. by SQL).
    public static func compute(_ query: SeriesQuery, grouped rows: [GroupedCell]) -> [SeriesGroup] {
        let starts = query.periodStarts
        var groups: [String: [Int64: SeriesPoint]] = [:]
        for row in rows {
            guard row.metric == CellKey.installationsMetric || row.metric == query.metric.keyPath else { continue }
            var point = groups[row.group, default: [:]][row.periodStart] ?? SeriesPoint(period: row.periodStart)
            if row.metric == CellKey.installationsMetric {
                point.installations &+= row.value.count
            } else {
                point.cells[row.cell] = (point.cells[row.cell] ?? .zero) + row.value
            }
            groups[row.group, default: [:]][row.periodStart] = point
        }
        if query.groupBy == nil && groups.isEmpty { groups["all"] = [:] }
        return groups.keys.sorted().map { group in
            SeriesGroup(group: group, points: starts.map { groups[group]?[$0] ?? SeriesPoint(period: $0) })
        }
    }
}

/// A cell summed over the tuples of one group.
public struct GroupedCell: Sendable, Equatable {
    public var group: String
    public var periodStart: Int64
    public var metric: String
    public var cell: String
    public var value: CellValue

    public init(group: String, periodStart: Int64, metric: String, cell: String, value: CellValue) {
        self.group = group
        self.periodStart = periodStart
        self.metric = metric
        self.cell = cell
        self.value = value
    }
}
