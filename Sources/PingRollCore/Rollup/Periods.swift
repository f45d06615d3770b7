/// The rollup periods: UTC calendar day, ISO week (Monday start), calendar month.
public enum PeriodKind: String, Codable, Sendable, CaseIterable, Comparable {
    case day, week, month

    public static func < (a: PeriodKind, b: PeriodKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The first day of the period holding `instant`, as days since 1970-01-01.
    public func start(of instant: Timestamp) -> Int64 {
        let day = floorDiv(instant.milliseconds, 86_400_000)
        switch self {
        case .day:
            return day
        case .week:
            // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
            let weekday = ((day + 3) % 7 + 7) % 7
            return day - weekday
        case .month:
            let (y, m, _) = civilFromDays(day)
            return daysFromCivil(y, m, 1)
        }
    }

    /// The first day of the period before the one starting on `start`.
    public func previous(before start: Int64) -> Int64 {
        switch self {
        case .day: return start - 1
        case .week: return start - 7
        case .month:
            let (y, m, _) = civilFromDays(start)
            return m == 1 ? daysFromCivil(y - 1, 12, 1) : daysFromCivil(y, m - 1, 1)
        }
    }

    /// The first day of the next period after the one starting on `start`.
    public func next(after start: Int64) -> Int64 {
        switch self {
        case .day: return start + 1
        case .week: return start + 7
        case .month:
            let (y, m, _) = civilFromDays(start)
            return m == 12 ? daysFromCivil(y + 1, 1, 1) : daysFromCivil(y, m + 1, 1)
        }
    }
}

/// A day number as `YYYY-MM-DD`.
public func isoDate(days: Int64) -> String {
    let (y, m, d) = civilFromDays(days)
    return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
}

/// `YYYY-MM-DD` as a day number, or nil.
public func days(isoDate text: String) -> Int64? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
          let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
          (1...12).contains(m), (1...daysInMonth(y, m)).contains(d) else { return nil }
    return daysFromCivil(y, m, d)
}

extension PeriodKind {
    /// `week:YYYY-MM-DD` naming a Monday (a digest's period): its first day, or nil.
    public static func week(named text: String) -> Int64? {
        guard text.hasPrefix("week:"), let day = days(isoDate: String(text.dropFirst(5))),
              PeriodKind.week.start(of: Timestamp(milliseconds: day &* 86_400_000)) == day else { return nil }
        return day
    }
}

extension PeriodKind {
    /// The first days of the `count` periods before the one starting on `start`, oldest first.
    public func starts(before start: Int64, count: Int) -> [Int64] {
        var starts: [Int64] = []
        var day = start
        for _ in 0..<max(0, count) {
            day = previous(before: day)
            starts.append(day)
        }
        return starts.reversed()
    }
}
