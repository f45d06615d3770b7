/// One group's numbers for an alert rule: the period evaluated and the one before.
public struct AlertObservation: Sendable, Equatable {
    public var group: String
    /// `true` (boolean metrics), errors (error rates).
    public var hits: Int64
    /// true + false (boolean), the installations reporting (number), counted (string), or with
    /// the metric in their metadata report (error rates).
    public var reporting: Int64
    public var previousHits: Int64
    public var previousReporting: Int64
    /// What `count_below` / `count_above` compare: true (boolean), reporting otherwise.
    public var count: Int64

    public init(group: String, hits: Int64, reporting: Int64, previousHits: Int64 = 0, previousReporting: Int64 = 0, count: Int64? = nil) {
        self.group = group
        self.hits = hits
        self.reporting = reporting
        self.previousHits = previousHits
        self.previousReporting = previousReporting
        self.count = count ?? hits
    }

    public var share: Double? { reporting > 0 ? Double(hits) / Double(reporting) : nil }
    public var previousShare: Double? { previousReporting > 0 ? Double(previousHits) / Double(previousReporting) : nil }
}

/// Whether a rule holds for a group, and in words why (for the notification).
public enum AlertEvaluator {
    public static func holds(_ rule: Subscription.Rule, _ o: AlertObservation) -> (holds: Bool, detail: String) {
        func percent(_ v: Double?) -> String { v.map { String(Int(($0 * 1000).rounded())) .withDecimal() + " %" } ?? "–" }
        switch rule.condition {
        case .shareBelow:
            guard o.reporting >= rule.minCount, let share = o.share else { return (false, "\(o.reporting) reporting, fewer than min_count \(rule.minCount)") }
            return (share < rule.threshold, "share \(percent(share)) of \(o.reporting) (threshold \(percent(rule.threshold)))")
        case .shareDrop:
            guard o.reporting >= rule.minCount, o.previousReporting >= rule.minCount, let share = o.share, let before = o.previousShare else {
                return (false, "\(o.reporting) and \(o.previousReporting) reporting, fewer than min_count \(rule.minCount)")
            }
            let drop = (before - share) * 100
            let significant = TwoProportion.significant(o.hits, o.reporting, o.previousHits, o.previousReporting)
            return (drop > rule.threshold && significant,
                    "share \(percent(share)) of \(o.reporting), \(percent(before)) of \(o.previousReporting) the period before: \(drop >= 0 ? "down" : "up") \(String(Int((abs(drop) * 10).rounded())).withDecimal()) points\(significant ? " (significant at 95 %)" : " (not significant)")")
        case .countBelow, .countAbove:
            guard o.reporting >= rule.minCount else { return (false, "\(o.reporting) reporting, fewer than min_count \(rule.minCount)") }
            let n = Double(o.count)
            return (rule.condition == .countBelow ? n < rule.threshold : n > rule.threshold, "count \(o.count) (threshold \(rule.threshold))")
        case .errorRateAbove:
            guard o.reporting >= rule.minCount, let rate = o.share else { return (false, "\(o.reporting) reports, fewer than min_count \(rule.minCount)") }
            return (rate > rule.threshold, "error rate \(percent(rate)) of \(o.reporting) reports (threshold \(percent(rule.threshold)))")
        }
    }
}

/// A rule's state in one group, as stored.
public struct AlertState: Sendable, Equatable {
    public var subscriptionID: Int64
    public var group: String
    public var firing: Bool
    /// When it started firing (or stopped).
    public var since: Timestamp
    /// The period evaluated last.
    public var periodStart: Int64
    public var detail: String
    public var updatedAt: Timestamp

    public init(subscriptionID: Int64, group: String, firing: Bool, since: Timestamp, periodStart: Int64, detail: String, updatedAt: Timestamp) {
        self.subscriptionID = subscriptionID
        self.group = group
        self.firing = firing
        self.since = since
        self.periodStart = periodStart
        self.detail = detail
        self.updatedAt = updatedAt
    }
}

extension String {
    /// "1234" as "123.4": tenths written without Foundation's formatting.
    func withDecimal() -> String {
        let negative = hasPrefix("-"), digits = negative ? String(dropFirst()) : self
        let padded = digits.count < 2 ? String(repeating: "0", count: 2 - digits.count) + digits : digits
        return (negative ? "-" : "") + padded.dropLast() + "." + padded.suffix(1)
    }
}
