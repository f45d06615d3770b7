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

    public init(_ query: SeriesQuery, _ groups: [SeriesGroup]) {
        metric = query.metric.keyPath
        valueType = query.metric.valueType.rawValue
        interval = query.interval.rawValue
        from = isoDate(days: query.from)
        to = isoDate(days: query.to)
        groupBy = query.groupBy?.rawValue
        series = groups.map { g in Group(group: g.group, points: g.points.map { PointBody(query.metric.valueType, $0) }) }
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
    public init(_ query: SeriesQuery, _ groups: [SeriesGroup]) {
        metric = query.metric.keyPath
        valueType = query.metric.valueType.rawValue
        interval = query.interval.rawValue
        period = isoDate(days: query.from)
        groupBy = query.groupBy?.rawValue ?? ""
        self.groups = groups.compactMap { g in g.points.first.map { Group(group: g.group, point: PointBody(query.metric.valueType, $0)) } }
    }

    enum CodingKeys: String, CodingKey { case metric, valueType = "value_type", interval, period, groupBy = "group_by", groups }
}

/// One point: its period, the installations counted, a count per cell of the value type, and the
/// figures derived from them (ratio; sum and estimated quantiles; counts per string value).
public struct PointBody: Encodable, Sendable {
    public var valueType: MetricValueType
    public var point: SeriesPoint

    public init(_ valueType: MetricValueType, _ point: SeriesPoint) {
        self.valueType = valueType
        self.point = point
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: MemberKey.self)
        try c.encode(isoDate(days: point.period), forKey: MemberKey("period"))
        try c.encode(point.installations, forKey: MemberKey("installations"))
        for cell in valueType.pointCells { try c.encode(point.count(cell), forKey: MemberKey(cell.rawValue)) }
        switch valueType {
        case .boolean:
            try c.encode(APIJSON.number(point.ratio), forKey: MemberKey("ratio"))
        case .number:
            try c.encode(APIJSON.number(point.sum) ?? 0, forKey: MemberKey("sum"))
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                try c.encode(APIJSON.number(point.quantile(q)), forKey: MemberKey(name))
            }
        case .string:
            try c.encode(Dictionary(point.values, uniquingKeysWith: +), forKey: MemberKey("values"))
        }
    }
}
