import PingRollCore

/// JSON and CSV forms of series answers.
public enum SeriesRendering {
    public static func json(_ query: SeriesQuery, _ groups: [SeriesGroup]) -> String {
        let series = groups.map { g in
            "{\"group\":\(JSONText.quoted(g.group)),\"points\":[" + g.points.map { point(query, $0) }.joined(separator: ",") + "]}"
        }.joined(separator: ",")
        return "{\"metric\":\(JSONText.quoted(query.metric.keyPath)),\"value_type\":\"\(query.metric.valueType.rawValue)\","
            + "\"interval\":\"\(query.interval.rawValue)\",\"from\":\"\(isoDate(days: query.from))\",\"to\":\"\(isoDate(days: query.to))\","
            + "\"group_by\":\(query.groupBy.map { JSONText.quoted($0.rawValue) } ?? "null"),\"series\":[\(series)]}"
    }

    /// The cells a point shows for each value type, in order; JSON members and CSV columns use
    /// the cell names.
    static func countedCells(_ type: MetricValueType) -> [Cell] {
        switch type {
        case .boolean: [.true, .false, .unknown, .notCollected]
        case .number: [.reporting, .failed, .unknown, .outOfRange, .notCollected]
        case .string: [.failed, .unknown, .notCollected]
        }
    }

    /// One point as a JSON object.
    public static func point(_ query: SeriesQuery, _ p: SeriesPoint) -> String {
        var members = ["\"period\":\"\(isoDate(days: p.period))\"", "\"installations\":\(p.installations)"]
        let counts = countedCells(query.metric.valueType).map { "\"\($0.rawValue)\":\(p.count($0))" }
        switch query.metric.valueType {
        case .boolean:
            members += counts + ["\"ratio\":\(number(p.ratio))"]
        case .number:
            members += counts + ["\"sum\":\(number(p.sum))", "\"p50\":\(number(p.quantile(0.5)))", "\"p90\":\(number(p.quantile(0.9)))",
                                 "\"p99\":\(number(p.quantile(0.99)))"]
        case .string:
            let values = p.values.map { "\(JSONText.quoted($0.0)):\($0.1)" }.joined(separator: ",")
            members += ["\"values\":{\(values)}"] + counts
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// RFC 4180 CSV (CRLF line ends), one row per group and period (per value for string metrics).
    public static func csv(_ query: SeriesQuery, _ groups: [SeriesGroup]) -> String {
        var rows: [[String]] = []
        switch query.metric.valueType {
        case .boolean, .number:
            let cells = countedCells(query.metric.valueType)
            let extra = query.metric.valueType == .boolean ? ["ratio"] : ["sum", "p50", "p90", "p99"]
            rows.append(["group", "period", "installations"] + cells.map(\.rawValue) + extra)
            for g in groups {
                for p in g.points {
                    let numbers = query.metric.valueType == .boolean
                        ? [p.ratio.map(numberText) ?? ""]
                        : [numberText(p.sum), p.quantile(0.5).map(numberText) ?? "", p.quantile(0.9).map(numberText) ?? "",
                           p.quantile(0.99).map(numberText) ?? ""]
                    rows.append([g.group, isoDate(days: p.period), "\(p.installations)"] + cells.map { "\(p.count($0))" } + numbers)
                }
            }
        case .string:
            rows.append(["group", "period", "installations", "value", "count"])
            for g in groups {
                for p in g.points {
                    let values = p.values + [("(failed)", p.count(Cell.failed)), ("(unknown)", p.count(Cell.unknown)),
                                              ("(not collected)", p.count(Cell.notCollected))].filter { $0.1 > 0 }
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
