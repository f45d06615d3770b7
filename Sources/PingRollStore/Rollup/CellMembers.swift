import PingRollCore

/// Which part of a metric's point a drill-down asks for.
public enum CellSelector: Sendable, Equatable, CustomStringConvertible {
    /// Every installation the period counts (the point's `installations`).
    case installations
    /// A fixed cell: `true`, `false`, `unknown`, `not_collected`, `reporting`, `failed`,
    /// `out_of_range`, `other`.
    case cell(Cell)
    /// An admitted string value (its `v:<value>` cell).
    case value(String)

    public var description: String {
        switch self {
        case .installations: "installations"
        case .cell(let c): c.rawValue
        case .value(let v): v
        }
    }

    /// The selectors a metric of `type` has: what `value=` may be (strings: any other text is a value).
    public static func fixed(for type: MetricValueType) -> [Cell] {
        switch type {
        case .boolean: [.true, .false, .unknown, .notCollected]
        case .number: [.reporting, .failed, .unknown, .outOfRange, .notCollected]
        case .string: [.other, .failed, .unknown, .notCollected]
        }
    }

    /// Parses `value=` for a metric of `type`.
    public static func parse(_ text: String, type: MetricValueType) -> CellSelector? {
        if text == "installations" { return .installations }
        // `v:TEXT` names a string value even when it reads like a cell (`v:unknown`, `v:` for
        // the empty value): the inverse of `SeriesPoint.valueKey`.
        if type == .string, text.hasPrefix("v:") { return .value(String(text.dropFirst(2))) }
        if let cell = Cell(rawValue: text), fixed(for: type).contains(cell) { return .cell(cell) }
        return type == .string && !text.isEmpty ? .value(text) : nil
    }
}

/// The installations counted in one cell of a series: `GET /api/v1/installations?metric=...`.
public struct CellMembersQuery: Sendable, Equatable {
    public var metric: MetricDefinition
    public var interval: PeriodKind
    /// The period's first day (days since 1970-01-01).
    public var periodStart: Int64
    public var selector: CellSelector
    /// As the series applies them (`SeriesQuery.applyingInternalDefault` included).
    public var filters: [Dimension: Set<String>]
    /// Installation id after which the page starts (0: the first page).
    public var after: Int64
    public var limit: Int

    public init(metric: MetricDefinition, interval: PeriodKind, periodStart: Int64, selector: CellSelector,
                filters: [Dimension: Set<String>], after: Int64 = 0, limit: Int = 100) {
        self.metric = metric
        self.interval = interval
        self.periodStart = periodStart
        self.selector = selector
        self.filters = filters
        self.after = after
        self.limit = limit
    }
}

/// An installation counted in a cell, with the ping that counted it (its latest of the period).
public struct CellMember: Sendable, Equatable {
    public var installation: InstallationRecord
    public var pingID: Int64
    public var recordedAt: Timestamp
}

public struct CellMembersPage: Sendable, Equatable {
    public var members: [CellMember]
    /// The installation id to continue after; nil on the last page.
    public var nextCursor: Int64?
}

/// Drill-down from a number to the installations behind it.
public protocol CellMembersReading: AnyObject, Sendable {
    /// Exactly the installations a series cell counts: each installation's latest ping of the
    /// period (`rollup_latest`), with the same tuple filters and the same cell rules
    /// (`RollupContributor`, string admission) the rollups were built with. In installation id
    /// order, `limit` at a time.
    func cellMembers(_ query: CellMembersQuery) throws(StorageError) -> CellMembersPage
}

/// Collects the cell names the contributor gives one metric.
private struct CellNames: CellSink {
    var names: [String] = []
    mutating func bump(metric: Int, cell: CellName, value: CellValue) {
        if metric == 0 { names.append(cell.text) }
    }
}

extension RollupContributor {
    /// The cells one ping's observations count in for the first metric, by the same rules the
    /// rollups were built with (string values admitted as they were).
    func cellNames(_ observations: [String: MetricObservation], period: PeriodKind, admission: StringAdmission) throws(StorageError) -> [String] {
        var sink = CellNames()
        var failure: StorageError?
        add(observations: observations, period: period, sign: 1, includeInstallations: false, into: &sink) { metric, value in
            do throws(StorageError) { return try admission.cell(metric, value) } catch { failure = error; return RollupContributor.otherCell }
        }
        if let failure { throw failure }
        return sink.names
    }
}

extension SQLBackedStore {
    public func cellMembers(_ query: CellMembersQuery) throws(StorageError) -> CellMembersPage {
        try read { e throws(StorageError) in try CellMembersSQL.page(e, query) }
    }
}

enum CellMembersSQL {
    static let columns = ColumnList([("installation_id", "l.installation_id"), ("ping_id", "l.ping_id"), ("recorded_at", "l.recorded_at")]
                                    + RollupSQL.contributionColumns.names.map { ($0, "p." + $0) })
    static let pageSize = 500

    static func page(_ e: any SQLExecutor, _ q: CellMembersQuery) throws(StorageError) -> CellMembersPage {
        let op = "listing the installations of a cell"
        let contributor = RollupContributor(metrics: [q.metric])
        let admission = StringAdmission(executor: e, readOnly: true)
        let wanted: String? = switch q.selector {
        case .installations: nil
        case .cell(let c): c.rawValue
        case .value(let v): RollupContributor.valueCell(v)
        }
        let limit = max(1, q.limit)
        var found: [(installation: Int64, ping: Int64, recordedAt: Int64)] = []
        var after = q.after
        var more = false
        scan: while true {
            let rows = try columns.select(e, """
                FROM rollup_latest l JOIN pings p ON p.id = l.ping_id AND p.recorded_at = l.recorded_at
                WHERE l.period = $1 AND l.period_start = $2 AND l.installation_id > $3
                ORDER BY l.installation_id LIMIT \(pageSize)
                """, [.integer(Int64(q.interval.code)), .integer(q.periodStart), .integer(after)], operation: op)
            for r in rows {
                let installation = try r.requiredInt64("installation_id")
                after = installation
                let (tuple, observations) = try RollupSQL.contribution(r)
                guard SeriesQuery.tuple(tuple, passes: q.filters) else { continue }
                if let wanted {
                    guard try contributor.cellNames(observations, period: q.interval, admission: admission).contains(wanted) else { continue }
                }
                // One past the page: then there is a next page.
                if found.count == limit { more = true; break scan }
                found.append((installation, try r.requiredInt64("ping_id"), try r.requiredInt64("recorded_at")))
            }
            if rows.count < pageSize { break }
        }
        let records = try InstallationSQL.byIDs(e, found.map(\.installation))
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var members: [CellMember] = []
        for f in found {
            guard let record = byID[f.installation] else {
                throw StorageError(.corrupt, operation: op, reason: "installation \(f.installation) of the rollups is missing")
            }
            members.append(CellMember(installation: record, pingID: f.ping, recordedAt: Timestamp(milliseconds: f.recordedAt)))
        }
        return CellMembersPage(members: members, nextCursor: more ? found.last?.installation : nil)
    }
}
