/// One additive counter of the rollups: for a period, a dimension tuple, a metric and a cell.
///
/// Cells: the metric `""` has one cell, `installations`. Boolean metrics: `true`, `false`,
/// `unknown`. Number metrics: `reporting` (with the sum), `failed`, `unknown`, `out_of_range`,
/// and one `b:<i>` bucket cell per log-scale bucket of the reported values. String metrics:
/// `v:<value>` per admitted value, `other`, `failed`, `unknown`. Every metric of a data
/// category has `not_collected` for installations that do not collect that category.
/// The fixed cell names (value cells `v:<value>` and bucket cells `b:<i>` are built from data).
/// The API's point members carry the same names.
public enum Cell: String, Sendable, CaseIterable {
    case installations
    case `true`, `false`, unknown
    case reporting, failed
    case outOfRange = "out_of_range"
    case notCollected = "not_collected"
    case other
}

public struct CellKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var period: PeriodKind
    public var periodStart: Int64
    public var tuple: RollupTuple
    public var metric: String
    public var cell: String

    public init(period: PeriodKind, periodStart: Int64, tuple: RollupTuple, metric: String, cell: String) {
        self.period = period
        self.periodStart = periodStart
        self.tuple = tuple
        self.metric = metric
        self.cell = cell
    }

    public static let installationsMetric = ""

    public static func < (a: CellKey, b: CellKey) -> Bool {
        (a.period, a.periodStart, a.metric, a.cell) < (b.period, b.periodStart, b.metric, b.cell)
            || ((a.period, a.periodStart, a.metric, a.cell) == (b.period, b.periodStart, b.metric, b.cell) && a.tuple < b.tuple)
    }

    public var description: String {
        "\(period.rawValue) \(isoDate(days: periodStart)) \(tuple) \(metric.isEmpty ? "(installations)" : metric) \(cell)"
    }
}

/// The value of a cell: a count and, for `reporting` cells, an exact sum of the reported numbers.
///
/// The sum is kept in three additive limbs, `sumHigh × 2^26 + sumUnits + sumMicros / 10^6`, so
/// adding and subtracting in any order gives the same result and no limb can overflow: each
/// contribution is at most 2^27 in every limb (numbers are bounded by
/// `MetricObservation.maxExactNumber`), so even 2^36 contributions to one cell, or to one SQL
/// `SUM` of cells, fit in 64 bits. Two values are equal when their counts and exact sums are,
/// however the sum is split between the limbs.
public struct CellValue: Equatable, Sendable, CustomStringConvertible {
    public var count: Int64
    public var sumHigh: Int64
    public var sumUnits: Int64
    public var sumMicros: Int64

    /// The weight of one `sumHigh`.
    public static let highShift: Int64 = 26

    public init(count: Int64, sumHigh: Int64 = 0, sumUnits: Int64 = 0, sumMicros: Int64 = 0) {
        self.count = count
        self.sumHigh = sumHigh
        self.sumUnits = sumUnits
        self.sumMicros = sumMicros
    }

    public static let zero = CellValue(count: 0)

    public var isZero: Bool { count == 0 && exactMicros == 0 }

    /// The exact sum in millionths (128 bits hold any sum of 64-bit limbs).
    public var exactMicros: Int128 {
        (Int128(sumHigh) << Int128(Self.highShift) + Int128(sumUnits)) * 1_000_000 + Int128(sumMicros)
    }

    /// The sum as a double.
    public var sum: Double {
        let micros = exactMicros
        let whole = micros / 1_000_000, rest = micros % 1_000_000
        return Double(whole) + Double(rest) / 1_000_000
    }

    // Limbs add with wrapping arithmetic: under the bound above they cannot overflow, and an
    // impossible overflow must not stop the server.
    public static func + (a: CellValue, b: CellValue) -> CellValue {
        CellValue(count: a.count &+ b.count, sumHigh: a.sumHigh &+ b.sumHigh, sumUnits: a.sumUnits &+ b.sumUnits,
                  sumMicros: a.sumMicros &+ b.sumMicros)
    }

    public static func += (a: inout CellValue, b: CellValue) { a = a + b }

    public static prefix func - (a: CellValue) -> CellValue {
        CellValue(count: 0 &- a.count, sumHigh: 0 &- a.sumHigh, sumUnits: 0 &- a.sumUnits, sumMicros: 0 &- a.sumMicros)
    }

    public static func == (a: CellValue, b: CellValue) -> Bool { a.count == b.count && a.exactMicros == b.exactMicros }

    /// One reported number: count 1 and the value split exactly into the limbs; nil when the
    /// value is not finite or beyond `MetricObservation.maxExactNumber`.
    public static func reporting(_ value: Double) -> CellValue? {
        guard value.isFinite, abs(value) <= MetricObservation.maxExactNumber else { return nil }
        let whole = value.rounded(.towardZero)
        let micros = Int64(((value - whole) * 1_000_000).rounded())  // |micros| <= 10^6
        let units = Int64(whole)  // exact: |whole| <= 2^53
        let high = units >> highShift, low = units - (high << highShift)
        return CellValue(count: 1, sumHigh: high, sumUnits: low, sumMicros: micros)
    }

    public var description: String { exactMicros == 0 ? "\(count)" : "\(count) (sum \(sum))" }
}

/// Fixed log-scale buckets: four per power of two (each ~19 % wide), mirrored for negatives,
/// and one for zero. Mergeable and subtractable because they are plain counts.
public enum LogBuckets {
    /// 2^(k/4) for k = 0...4.
    static let quarterPowers: [Double] = [1, 1.189_207_115_002_721, 1.414_213_562_373_095, 1.681_792_830_507_429, 2]

    public static func index(of value: Double) -> Int {
        let magnitude = abs(value)
        let significand = magnitude.significand
        // Counted without a temporary array: this runs for every number of every ping.
        var quarter = 0
        if significand >= quarterPowers[1] { quarter += 1 }
        if significand >= quarterPowers[2] { quarter += 1 }
        if significand >= quarterPowers[3] { quarter += 1 }
        return Int(magnitude.exponent) * 4 + quarter
    }

    public static func cell(for value: Double) -> String { name(for: value).text }

    /// The bucket of a finite value (indexes of finite doubles lie within ±4,300).
    public static func name(for value: Double) -> CellName {
        if value == 0 { return .bucket(sign: 0, index: 0) }
        return .bucket(sign: value > 0 ? 1 : -1, index: Int16(clamping: index(of: value)))
    }

    /// 2^(i/4).
    static func power(_ i: Int) -> Double {
        let whole = i >= 0 ? i / 4 : -((-i + 3) / 4)
        return Double(sign: .plus, exponent: whole, significand: quarterPowers[i - whole * 4])
    }

    /// The bounds `[low, high)` of a bucket cell (negative cells mirror: `(-high, -low]`).
    public static func bounds(of cell: String) -> (low: Double, high: Double)? {
        guard cell.hasPrefix("b:") else { return nil }
        let rest = cell.dropFirst(2)
        if rest == "0" { return (0, 0) }
        // Bucket indexes of finite doubles lie within ±4,300; anything else is not a bucket.
        guard let sign = rest.first, let i = Int(rest.dropFirst()), abs(i) <= 5_000 else { return nil }
        let low = power(i), high = power(i + 1)
        return sign == "-" ? (-high, -low) : (low, high)
    }
}
