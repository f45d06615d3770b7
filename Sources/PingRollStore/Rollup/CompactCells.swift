import PingRollCore

/// The cells of a recompute, keyed compactly: tuples and cell names are interned, so a cell
/// takes a fixed-size key of integers instead of a key of strings (a verify of a long history
/// holds every cell of it at once).
struct CompactCells: CellSink {
    struct Key: Hashable {
        var periodStart: Int64
        var cell: Int32
        var tuple: Int32
        /// An index into `metrics`; -1 for the installation count.
        var metric: Int16
        var period: UInt8
    }

    private(set) var values: [Key: CellValue] = [:]
    private var tuples: [RollupTuple] = []
    private var tupleIndex: [RollupTuple: Int32] = [:]
    private var names: [String] = []
    private var nameIndex: [String: Int32] = [:]
    private let metrics: [String]
    private let metricIndex: [String: Int16]
    private var current = (tuple: Int32(0), period: UInt8(0), periodStart: Int64(0))

    init(metrics: [MetricDefinition]) {
        self.metrics = metrics.map(\.keyPath)
        metricIndex = Dictionary(metrics.enumerated().map { ($1.keyPath, Int16(clamping: $0)) }, uniquingKeysWith: { a, _ in a })
    }

    var count: Int { values.count }

    /// The ping whose cells follow.
    mutating func use(tuple: RollupTuple) {
        if let i = tupleIndex[tuple] {
            current.tuple = i
        } else {
            let i = Int32(tuples.count)
            tuples.append(tuple)
            tupleIndex[tuple] = i
            current.tuple = i
        }
    }

    /// The period whose cells follow.
    mutating func use(period: PeriodKind, start: Int64) {
        current.period = UInt8(truncatingIfNeeded: period.code)
        current.periodStart = start
    }

    mutating func bump(metric: Int, cell: CellName, value: CellValue) {
        let key = Key(periodStart: current.periodStart, cell: intern(cell), tuple: current.tuple, metric: Int16(truncatingIfNeeded: metric),
                      period: current.period)
        values[key, default: .zero] += value
    }

    // Cell codes: fixed cells 0..<16, buckets 16 + …, names from data 1 << 24 + their index.
    private static let bucketBase: Int32 = 16
    private static let nameBase: Int32 = 1 << 24

    private static func fixedCode(_ c: Cell) -> Int32 { Int32(Cell.allCases.firstIndex(of: c)!) }

    private static func bucketCode(sign: Int8, index: Int16) -> Int32 {
        bucketBase + (Int32(sign) + 1) * 65_536 + (Int32(index) + 32_768)
    }

    private mutating func intern(_ name: CellName) -> Int32 {
        switch name {
        case .fixed(let c): return Self.fixedCode(c)
        case .bucket(let sign, let index): return Self.bucketCode(sign: sign, index: index)
        case .named(let s):
            if let c = Cell(rawValue: s) { return Self.fixedCode(c) }
            if let i = nameIndex[s] { return Self.nameBase + i }
            let i = Int32(names.count)
            names.append(s)
            nameIndex[s] = i
            return Self.nameBase + i
        }
    }

    /// The cell name of a code, as `CellKey.cell` spells it.
    private func text(_ code: Int32) -> String {
        if code < Self.bucketBase { return Cell.allCases[Int(code)].rawValue }
        if code < Self.nameBase {
            let rest = code - Self.bucketBase
            return CellName.bucket(sign: Int8(rest / 65_536 - 1), index: Int16(rest % 65_536 - 32_768)).text
        }
        return names[Int(code - Self.nameBase)]
    }

    /// The code of a cell name as stored, or nil when no recomputed cell has that name.
    private func code(of text: String) -> Int32? {
        if let c = Cell(rawValue: text) { return Self.fixedCode(c) }
        if let i = nameIndex[text] { return Self.nameBase + i }
        guard text.hasPrefix("b:") else { return nil }
        let rest = text.dropFirst(2)
        if rest == "0" { return Self.bucketCode(sign: 0, index: 0) }
        guard let sign = rest.first, sign == "+" || sign == "-", let i = Int16(rest.dropFirst()), i >= 0 else { return nil }
        let code = Self.bucketCode(sign: sign == "+" ? 1 : -1, index: i)
        // Only the canonical spelling (`b:+3`, not `b:+03`) is the recomputed cell.
        return text == self.text(code) ? code : nil
    }

    func cellKey(_ k: Key) -> CellKey {
        CellKey(period: PeriodKind(code: Int64(k.period))!, periodStart: k.periodStart, tuple: tuples[Int(k.tuple)],
                metric: k.metric < 0 ? CellKey.installationsMetric : metrics[Int(k.metric)], cell: text(k.cell))
    }

    /// The compact key of a live cell, or nil when the recomputation has no such cell.
    func key(of c: CellKey) -> Key? {
        let metric: Int16
        if c.metric == CellKey.installationsMetric { metric = -1 } else if let m = metricIndex[c.metric] { metric = m } else { return nil }
        guard let tuple = tupleIndex[c.tuple], let cell = code(of: c.cell) else { return nil }
        return Key(periodStart: c.periodStart, cell: cell, tuple: tuple, metric: metric, period: UInt8(truncatingIfNeeded: c.period.code))
    }

    mutating func removeValue(forKey key: Key) -> CellValue? { values.removeValue(forKey: key) }

    mutating func dropZeros() { values = values.filter { !$0.value.isZero } }

    /// Every non-zero cell keyed in full.
    func expanded() -> [CellKey: CellValue] {
        var result: [CellKey: CellValue] = [:]
        result.reserveCapacity(values.count)
        for (k, v) in values where !v.isZero { result[cellKey(k)] = v }
        return result
    }
}
