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
        func bump(_ metric: String, _ cell: Cell, _ value: CellValue = CellValue(count: 1)) { bump(metric, cell.rawValue, value) }
        func bump(_ metric: String, _ cell: String, _ value: CellValue = CellValue(count: 1)) {
            let key = CellKey(period: period, periodStart: periodStart, tuple: tuple, metric: metric, cell: cell)
            // One lookup (the dictionary's in-place accessor), not a read and a write.
            deltas[key, default: .zero] += sign > 0 ? value : -value
        }
        if includeInstallations { bump(CellKey.installationsMetric, Cell.installations) }
        // By index: iterating copies each definition (a retain and release of every field).
        for i in metrics.indices where metrics[i].periods.contains(period) {
            let metric = metrics[i]
            switch (metric.valueType, observations[metric.keyPath]) {
            case (.boolean, .bool(let b)?): bump(metric.keyPath, b ? Cell.true : Cell.false)
            case (.number, .number(let d)?):
                // Observations stored before the bound existed may hold larger numbers.
                if let value = CellValue.reporting(d) {
                    bump(metric.keyPath, Cell.reporting, value)
                    bump(metric.keyPath, LogBuckets.cell(for: d))
                } else {
                    bump(metric.keyPath, Self.outOfRangeCell)
                }
            case (.number, .outOfRange?): bump(metric.keyPath, Self.outOfRangeCell)
            case (.string, .string(let s)?): bump(metric.keyPath, stringCell(metric, s))
            case (.number, .failed?), (.string, .failed?): bump(metric.keyPath, Cell.failed)
            case (_, .notCollected?): bump(metric.keyPath, Self.notCollectedCell)
            default: bump(metric.keyPath, Cell.unknown)
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
