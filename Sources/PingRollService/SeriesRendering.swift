import PingRollCore

/// The CSV form of series answers (the JSON form is `SeriesBody`).
public enum SeriesRendering {
    /// RFC 4180 CSV (CRLF line ends), one row per group and period (per value for string metrics).
    public static func csv(_ query: SeriesQuery, _ groups: [SeriesGroup]) -> String {
        var rows: [[String]] = []
        switch query.metric.valueType {
        case .boolean, .number:
            let cells = query.metric.valueType.pointCells
            rows.append(["group", "period", "installations"] + cells.map(\.rawValue) + query.metric.valueType.pointFigures)
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

    /// The number as JSON shows it (`APIJSON.number`: millionths, nothing when not finite), as text.
    static func numberText(_ v: Double) -> String {
        guard let rounded = APIJSON.number(v) else { return "" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(rounded)"
    }
}
