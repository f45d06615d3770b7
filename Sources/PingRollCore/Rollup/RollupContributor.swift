/// Computes the cells one ping adds to (or, with a negative sign, removes from) the rollups of
/// one period: the installation count of its tuple and one or two cells per metric.
public struct RollupContributor: Sendable {
    public let metrics: [MetricDefinition]

    public init(metrics: [MetricDefinition]) { self.metrics = metrics }

    /// Adds `sign` × the ping's contribution to `deltas`.
    /// - Parameters:
    ///   - includeInstallations: whether to count the installation itself (metric `""`).
    ///   - stringCell: the cell a string value counts in (`v:<value>` or `other`), which depends
    ///     on the values already admitted for the metric.
    public func add(tuple: RollupTuple, observations: [String: MetricObservation], period: PeriodKind, periodStart: Int64,
                    sign: Int64, includeInstallations: Bool, into deltas: inout [CellKey: CellValue],
                    stringCell: (MetricDefinition, String) -> String) {
        var sink = KeyedCells(tuple: tuple, period: period, periodStart: periodStart, metrics: metrics)
        // Moved in and out, never copied: the dictionary stays uniquely referenced.
        swap(&sink.deltas, &deltas)
        add(observations: observations, period: period, sign: sign, includeInstallations: includeInstallations, into: &sink,
            stringCell: stringCell)
        swap(&sink.deltas, &deltas)
    }

    /// Adds `sign` × the ping's contribution to any `CellSink` (which knows the ping's tuple
    /// and period start); `metric` is an index into `metrics`, or -1 for the installation count.
    public func add<Sink: CellSink>(observations: [String: MetricObservation], period: PeriodKind, sign: Int64,
                                    includeInstallations: Bool, into sink: inout Sink,
                                    stringCell: (MetricDefinition, String) -> String) {
        func bump(_ metric: Int, _ cell: CellName, _ value: CellValue = CellValue(count: 1)) {
            sink.bump(metric: metric, cell: cell, value: sign > 0 ? value : -value)
        }
        if includeInstallations { bump(-1, .fixed(.installations)) }
        // By index: iterating copies each definition (a retain and release of every field).
        for i in metrics.indices where metrics[i].periods.contains(period) {
            let metric = metrics[i]
            switch (metric.valueType, observations[metric.keyPath]) {
            case (.boolean, .bool(let b)?): bump(i, .fixed(b ? .true : .false))
            case (.number, .number(let d)?):
                // Observations stored before the bound existed may hold larger numbers.
                if let value = CellValue.reporting(d) {
                    bump(i, .fixed(.reporting), value)
                    bump(i, LogBuckets.name(for: d))
                } else {
                    bump(i, .fixed(.outOfRange))
                }
            case (.number, .outOfRange?): bump(i, .fixed(.outOfRange))
            case (.string, .string(let s)?): bump(i, .named(stringCell(metric, s)))
            case (.number, .failed?), (.string, .failed?): bump(i, .fixed(.failed))
            case (_, .notCollected?): bump(i, .fixed(.notCollected))
            default: bump(i, .fixed(.unknown))
            }
        }
    }

    /// The cell name of an admitted string value.
    public static func valueCell(_ value: String) -> String { "v:" + value }
    public static let otherCell = Cell.other.rawValue
    /// Numbers beyond `MetricObservation.maxExactNumber`.
    public static let outOfRangeCell = Cell.outOfRange.rawValue
    /// Metrics of a data category the installation does not collect.
    public static let notCollectedCell = Cell.notCollected.rawValue
}

/// A cell's name as the contributor produces it: a fixed cell, a bucket, or a name made from
/// data (`v:<value>`, or `other`, as string admission decides).
public enum CellName: Hashable, Sendable {
    case fixed(Cell)
    /// `b:0` (sign 0), `b:+<index>`, `b:-<index>`.
    case bucket(sign: Int8, index: Int16)
    case named(String)

    public var text: String {
        switch self {
        case .fixed(let c): c.rawValue
        case .bucket(let sign, let index): sign == 0 ? "b:0" : (sign > 0 ? "b:+\(index)" : "b:-\(index)")
        case .named(let s): s
        }
    }
}

/// Where a contributor's cells go.
public protocol CellSink {
    /// `metric`: an index into the contributor's metrics, -1 for the installation count.
    mutating func bump(metric: Int, cell: CellName, value: CellValue)
}

/// Cells keyed in full, for one ping's tuple and one period start.
struct KeyedCells: CellSink {
    let tuple: RollupTuple
    let period: PeriodKind
    let periodStart: Int64
    let metrics: [MetricDefinition]
    var deltas: [CellKey: CellValue] = [:]

    mutating func bump(metric: Int, cell: CellName, value: CellValue) {
        let key = CellKey(period: period, periodStart: periodStart, tuple: tuple,
                          metric: metric < 0 ? CellKey.installationsMetric : metrics[metric].keyPath, cell: cell.text)
        // One lookup (the dictionary's in-place accessor), not a read and a write.
        deltas[key, default: .zero] += value
    }
}
