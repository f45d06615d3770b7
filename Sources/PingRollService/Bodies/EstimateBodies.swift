import PingRollCore

/// `GET /api/v1/estimate`.
public struct EstimateBody: Encodable, Sendable {
    public struct Group: Encodable, Sendable {
        public var group: String
        public var points: [EstimatePointBody]
    }

    public var metric: String
    public var interval: String
    public var from: String
    public var to: String
    @Nullable public var groupBy: String?
    public var method: String
    public var lookback: Int
    public var series: [Group]

    public init(_ query: EstimateQuery, _ groups: [EstimateGroup], presentation: SeriesPresentation) {
        metric = query.series.metric.keyPath
        interval = query.series.interval.rawValue
        from = isoDate(days: query.series.from)
        to = isoDate(days: query.series.to)
        groupBy = query.series.groupBy?.rawValue
        method = query.method.rawValue
        lookback = query.lookback
        series = groups.map { g in
            Group(group: g.group, points: g.points.map { EstimatePointBody(point: $0, method: query.method, interval: query.series.interval, presentation: presentation) })
        }
    }

    enum CodingKeys: String, CodingKey { case metric, interval, from, to, groupBy = "group_by", method, lookback, series }
}

/// One group's estimate in one period. Counts a viewer may not see are null, with what is
/// derived from them, and the point says `suppressed: true` (as series points).
public struct EstimatePointBody: Encodable, Sendable {
    var point: EstimatePoint
    var method: EstimateMethod
    var interval: PeriodKind
    var presentation: SeriesPresentation

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: MemberKey.self)
        let p = point
        let hidden = [p.trueCount, p.falseCount, p.silent, p.reported].contains(where: presentation.suppresses)
        func count(_ value: Int64?, _ name: String) throws {
            if let value, !presentation.suppresses(value) { try c.encode(value, forKey: MemberKey(name)) } else { try c.encodeNil(forKey: MemberKey(name)) }
        }
        func number(_ value: Double?, _ name: String) throws {
            try c.encode(hidden ? nil : APIJSON.number(value), forKey: MemberKey(name))
        }
        try c.encode(isoDate(days: p.period), forKey: MemberKey("period"))
        try c.encode(presentation.isComplete(interval, start: p.period), forKey: MemberKey("complete"))
        try count(p.reported, "reported")
        try count(p.expected, "expected")
        try count(p.reporting, "reporting")
        try count(p.trueCount, "true")
        let interval = p.interval
        try number(p.ratio, "ratio")
        try number(interval?.low, "ci_low")
        try number(interval?.high, "ci_high")
        try c.encode(p.reporting < presentation.minReliableCount, forKey: MemberKey("low_count"))
        try count(p.silent, "silent")
        try number(p.estimatedTrue, "estimated_true")
        try number(p.estimatedTrueLow, "estimated_true_low")
        try number(p.estimatedTrueHigh, "estimated_true_high")
        try number(p.estimatedTotal, "estimated_total")
        try count(p.population, "population")
        try number(p.percentReporting, "percent_reporting")
        try c.encode(method.rawValue, forKey: MemberKey("method"))
        try c.encode(p.reason, forKey: MemberKey("reason"))
        if hidden { try c.encode(true, forKey: MemberKey("suppressed")) }
    }
}

/// `GET /api/v1/population` and the answer to `PUT`.
public struct PopulationBody: Encodable, Sendable {
    public struct Row: Encodable, Sendable {
        public var periodStart: String
        public var dimension: String
        public var value: String
        public var installations: Int64

        enum CodingKeys: String, CodingKey { case periodStart = "period_start", dimension, value, installations }
    }

    public var rows: [Row]

    public init(_ rows: [PopulationRow]) {
        self.rows = rows.map { Row(periodStart: isoDate(days: $0.periodStart), dimension: $0.dimension, value: $0.value, installations: $0.installations) }
    }
}
