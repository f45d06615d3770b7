import PingRollCore

/// The CSV form of series answers (the JSON form is `SeriesBody`).
public enum SeriesRendering {
    /// RFC 4180 CSV (CRLF line ends), one row per group and period (per value for string metrics).
    /// The members are the JSON point's (`PointBody`), a count a viewer may not see left empty.
    public static func csv(_ query: SeriesQuery, _ groups: [SeriesGroup], presentation: SeriesPresentation = SeriesPresentation()) -> String {
        var rows: [[String]] = []
        func count(_ value: Int64) -> String { presentation.suppresses(value) ? "" : "\(value)" }
        func partial(_ p: SeriesPoint) -> [String] {
            [presentation.isComplete(query.interval, start: p.period) ? "true" : "false", count(p.installations), p.expected.map(count) ?? ""]
        }
        switch query.metric.valueType {
        case .boolean, .number:
            let boolean = query.metric.valueType == .boolean
            let cells = query.metric.valueType.pointCells
            rows.append(["group", "period", "installations"] + cells.map(\.rawValue) + [SeriesPoint.notEligibleCell] + query.metric.valueType.pointFigures
                        + (boolean ? ["low_count"] : []) + ["complete", "reported", "expected"])
            for g in groups {
                for p in g.points {
                    let numbers: [String]
                    if boolean {
                        let share = presentation.share(of: p)
                        numbers = [share.map { numberText($0.ratio) } ?? "", share.map { numberText($0.low) } ?? "",
                                   share.map { numberText($0.high) } ?? "", p.isLowCount(presentation) ? "true" : "false"]
                    } else if !presentation.showsNumbers(of: p) {
                        numbers = ["", "", "", ""]
                    } else {
                        numbers = [numberText(p.sum), p.quantile(0.5).map(numberText) ?? "", p.quantile(0.9).map(numberText) ?? "",
                                   p.quantile(0.99).map(numberText) ?? ""]
                    }
                    rows.append([g.group, isoDate(days: p.period), count(p.installations)] + cells.map { count(p.count($0)) } + [count(p.notEligible)] + numbers
                                + partial(p))
                }
            }
        case .string:
            rows.append(["group", "period", "installations", "value", "count", "complete", "reported", "expected"])
            for g in groups {
                for p in g.points {
                    let values = p.values + [("(failed)", p.count(Cell.failed)), ("(unknown)", p.count(Cell.unknown)),
                                              ("(not collected)", p.count(Cell.notCollected))].filter { $0.1 > 0 }
                    if values.isEmpty { rows.append([g.group, isoDate(days: p.period), count(p.installations), "", ""] + partial(p)) }
                    for (value, n) in values { rows.append([g.group, isoDate(days: p.period), count(p.installations), value, count(n)] + partial(p)) }
                }
            }
        }
        return rows.map { $0.map(CSV.field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    /// The number as JSON shows it (`APIJSON.number`: millionths, nothing when not finite), as text.
    static func numberText(_ v: Double) -> String {
        guard let rounded = APIJSON.number(v) else { return "" }
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return "\(rounded)"
    }
}
