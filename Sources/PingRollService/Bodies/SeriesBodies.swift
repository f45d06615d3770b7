import PingRollCore

/// `GET /api/v1/series`: one list of points per group.
public struct SeriesBody: Encodable, Sendable {
    public struct Group: Encodable, Sendable {
        public var group: String
        public var points: [PointBody]
    }

    public var metric: String
    public var valueType: String
    public var interval: String
    public var from: String
    public var to: String
    @Nullable public var groupBy: String?
    public var series: [Group]

    public init(_ query: SeriesQuery, _ groups: [SeriesGroup], presentation: SeriesPresentation = SeriesPresentation()) {
        metric = query.metric.keyPath
        valueType = query.metric.valueType.rawValue
        interval = query.interval.rawValue
        from = isoDate(days: query.from)
        to = isoDate(days: query.to)
        groupBy = query.groupBy?.rawValue
        series = groups.map { g in Group(group: g.group, points: g.points.map { PointBody(query.metric.valueType, query.interval, $0, presentation) }) }
    }

    enum CodingKeys: String, CodingKey { case metric, valueType = "value_type", interval, from, to, groupBy = "group_by", series }
}

/// `GET /api/v1/breakdown`: one period split by a dimension, one point per group.
public struct BreakdownBody: Encodable, Sendable {
    public struct Group: Encodable, Sendable {
        public var group: String
        public var point: PointBody
    }

    public var metric: String
    public var valueType: String
    public var interval: String
    public var period: String
    public var groupBy: String
    public var groups: [Group]

    /// `groups` each hold the one period of `query` (from = to).
    public init(_ query: SeriesQuery, _ groups: [SeriesGroup], presentation: SeriesPresentation = SeriesPresentation()) {
        metric = query.metric.keyPath
        valueType = query.metric.valueType.rawValue
        interval = query.interval.rawValue
        period = isoDate(days: query.from)
        groupBy = query.groupBy?.rawValue ?? ""
        self.groups = groups.compactMap { g in g.points.first.map { Group(group: g.group, point: PointBody(query.metric.valueType, query.interval, $0, presentation)) } }
    }

    enum CodingKeys: String, CodingKey { case metric, valueType = "value_type", interval, period, groupBy = "group_by", groups }
}

/// One point: its period, the installations counted, a count per cell of the value type, and the
/// figures derived from them (ratio with its 95 % Wilson interval and `low_count`; sum and
/// estimated quantiles; counts per string value). Counts a viewer may not see (see
/// `SeriesPresentation.suppressBelow`) are null, the figures derived from them too, and the point
/// says `suppressed: true`.
public struct PointBody: Encodable, Sendable {
    public var valueType: MetricValueType
    public var interval: PeriodKind
    public var point: SeriesPoint
    public var presentation: SeriesPresentation

    public init(_ valueType: MetricValueType, _ interval: PeriodKind, _ point: SeriesPoint, _ presentation: SeriesPresentation = SeriesPresentation()) {
        self.valueType = valueType
        self.interval = interval
        self.point = point
        self.presentation = presentation
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: MemberKey.self)
        var suppressed = false
        func count(_ value: Int64, _ name: String) throws {
            if presentation.suppresses(value) {
                suppressed = true
                try c.encodeNil(forKey: MemberKey(name))
            } else {
                try c.encode(value, forKey: MemberKey(name))
            }
        }
        try c.encode(isoDate(days: point.period), forKey: MemberKey("period"))
        // Partial periods: complete once the period's end is `--complete-after` behind; how
        // many installations reported in it, and how many the period before had.
        try c.encode(presentation.isComplete(interval, start: point.period), forKey: MemberKey("complete"))
        try count(point.installations, "reported")
        if let expected = point.expected { try count(expected, "expected") } else { try c.encodeNil(forKey: MemberKey("expected")) }
        try count(point.installations, "installations")
        for cell in valueType.pointCells { try count(point.count(cell), cell.rawValue) }
        try count(point.notEligible, SeriesPoint.notEligibleCell)
        switch valueType {
        case .boolean:
            let share = presentation.share(of: point)
            try c.encode(APIJSON.number(share?.ratio), forKey: MemberKey("ratio"))
            try c.encode(APIJSON.number(share?.low), forKey: MemberKey("ci_low"))
            try c.encode(APIJSON.number(share?.high), forKey: MemberKey("ci_high"))
            try c.encode(point.isLowCount(presentation), forKey: MemberKey("low_count"))
        case .number:
            let hidden = !presentation.showsNumbers(of: point)
            try c.encode(hidden ? nil : APIJSON.number(point.sum) ?? 0, forKey: MemberKey("sum"))
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                try c.encode(hidden ? nil : APIJSON.number(point.quantile(q)), forKey: MemberKey(name))
            }
        case .string:
            let values = Dictionary(point.values, uniquingKeysWith: +)
            if values.values.contains(where: presentation.suppresses) { suppressed = true }
            try c.encode(values.mapValues { presentation.suppresses($0) ? nil : $0 }, forKey: MemberKey("values"))
        }
        if suppressed { try c.encode(true, forKey: MemberKey("suppressed")) }
    }
}
