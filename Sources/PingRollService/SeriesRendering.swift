import PingRollCore

/// JSON and CSV forms of series answers.
public enum SeriesRendering {
    public static func json(_ query: SeriesQuery, _ groups: [SeriesGroup]) -> String {
        let series = groups.map { g in
            "{\"group\":\(JSONText.quoted(g.group)),\"points\":[" + g.points.map { point(query, $0) }.joined(separator: ",") + "]}"
        }.joined(separator: ",")
        return "{\"metric\":\(JSONText.quoted(query.metric.keyPath)),\"value_type\":\"\(query.metric.valueType.rawValue)\","
            + "\"interval\":\"\(query.interval.rawValue)\",\"from\":\"\(isoDate(days: query.from))\",\"to\":\"\(isoDate(days: query.to))\","
            + "\"group_by\":\(query.groupBy.map(JSONText.quoted) ?? "null"),\"series\":[\(series)]}"
    }

    /// One point as a JSON object.
    public static func point(_ query: SeriesQuery, _ p: SeriesPoint) -> String {
        var members = ["\"period\":\"\(isoDate(days: p.period))\"", "\"installations\":\(p.installations)"]
        switch query.metric.valueType {
        case .boolean:
            members += ["\"true\":\(p.count("true"))", "\"false\":\(p.count("false"))", "\"unknown\":\(p.count("unknown"))",
                        "\"not_collected\":\(p.count(RollupContributor.notCollectedCell))", "\"ratio\":\(number(p.ratio))"]
        case .number:
            members += ["\"reporting\":\(p.count("reporting"))", "\"failed\":\(p.count("failed"))", "\"unknown\":\(p.count("unknown"))",
                        "\"out_of_range\":\(p.count(RollupContributor.outOfRangeCell))", "\"not_collected\":\(p.count(RollupContributor.notCollectedCell))",
                        "\"sum\":\(number(p.sum))", "\"p50\":\(number(p.quantile(0.5)))", "\"p90\":\(number(p.quantile(0.9)))",
                        "\"p99\":\(number(p.quantile(0.99)))"]
        case .string:
            let values = p.values.map { "\(JSONText.quoted($0.0)):\($0.1)" }.joined(separator: ",")
            members += ["\"values\":{\(values)}", "\"failed\":\(p.count("failed"))", "\"unknown\":\(p.count("unknown"))",
                        "\"not_collected\":\(p.count(RollupContributor.notCollectedCell))"]
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// RFC 4180 CSV (CRLF line ends), one row per group and period (per value for string metrics).
    public static func csv(_ query: SeriesQuery, _ groups: [SeriesGroup]) -> String {
        var rows: [[String]] = []
        switch query.metric.valueType {
        case .boolean:
            rows.append(["group", "period", "installations", "true", "false", "unknown", "not_collected", "ratio"])
            for g in groups {
                for p in g.points {
                    rows.append([g.group, isoDate(days: p.period), "\(p.installations)", "\(p.count("true"))", "\(p.count("false"))",
                                 "\(p.count("unknown"))", "\(p.count(RollupContributor.notCollectedCell))", p.ratio.map(numberText) ?? ""])
                }
            }
        case .number:
            rows.append(["group", "period", "installations", "reporting", "failed", "unknown", "out_of_range", "not_collected", "sum", "p50", "p90", "p99"])
            for g in groups {
                for p in g.points {
                    rows.append([g.group, isoDate(days: p.period), "\(p.installations)", "\(p.count("reporting"))", "\(p.count("failed"))",
                                 "\(p.count("unknown"))", "\(p.count(RollupContributor.outOfRangeCell))",
                                 "\(p.count(RollupContributor.notCollectedCell))", numberText(p.sum), p.quantile(0.5).map(numberText) ?? "",
                                 p.quantile(0.9).map(numberText) ?? "", p.quantile(0.99).map(numberText) ?? ""])
                }
            }
        case .string:
            rows.append(["group", "period", "installations", "value", "count"])
            for g in groups {
                for p in g.points {
                    let values = p.values + [("(failed)", p.count("failed")), ("(unknown)", p.count("unknown")),
                                              ("(not collected)", p.count(RollupContributor.notCollectedCell))].filter { $0.1 > 0 }
                    if values.isEmpty { rows.append([g.group, isoDate(days: p.period), "\(p.installations)", "", ""]) }
                    for (value, count) in values { rows.append([g.group, isoDate(days: p.period), "\(p.installations)", value, "\(count)"]) }
                }
            }
        }
        return rows.map { $0.map(CSV.field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    public static func number(_ v: Double?) -> String { v.map(numberText) ?? "null" }

    static func numberText(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        let rounded = (v * 1_000_000).rounded() / 1_000_000
        return "\(rounded)"
    }
}
