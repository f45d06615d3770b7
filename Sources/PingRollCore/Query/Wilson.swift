/// The Wilson score interval of a share: better than the normal approximation for small counts
/// and shares near 0 or 1, and never outside 0...1.
public enum Wilson {
    /// z for a two-sided 95 % interval.
    public static let z95 = 1.959963984540054

    /// The interval of `successes` out of `trials`; nil when there are no trials (or the counts
    /// make no sense).
    public static func interval(successes: Int64, trials: Int64, z: Double = z95) -> (low: Double, high: Double)? {
        guard trials > 0, successes >= 0, successes <= trials else { return nil }
        let n = Double(trials), p = Double(successes) / n, z2 = z * z
        let denominator = 1 + z2 / n
        let center = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        return (max(0, center - half), min(1, center + half))
    }
}

/// How series points are shown to a caller: which counts are too few to read a share from, and
/// (for viewers, when configured) which counts are too small to show at all.
public struct SeriesPresentation: Sendable, Equatable {
    /// A boolean point whose true + false is below this is `low_count` (`--min-reliable-count`).
    public var minReliableCount: Int64
    /// Counts from 1 to this minus one are answered as null and the point marked `suppressed`
    /// (`--viewer-min-count`, for viewer tokens; 0: off). Zero is shown: it says nothing of anyone.
    public var suppressBelow: Int64
    /// A period is complete once its end lies this long before `now` (`--complete-after`):
    /// GitLab retries a failed ping for up to 24 hours.
    public var completeAfterMs: Int64
    public var now: Timestamp

    public static let defaultMinReliableCount: Int64 = 30
    public static let defaultCompleteAfterMs: Int64 = 2 * 86_400_000

    public init(minReliableCount: Int64 = defaultMinReliableCount, suppressBelow: Int64 = 0,
                completeAfterMs: Int64 = defaultCompleteAfterMs, now: Timestamp = .now()) {
        self.minReliableCount = minReliableCount
        self.suppressBelow = suppressBelow
        self.completeAfterMs = completeAfterMs
        self.now = now
    }

    /// Whether the `kind` period starting on day `start` is complete at `now`.
    public func isComplete(_ kind: PeriodKind, start: Int64) -> Bool {
        let end = kind.next(after: start) &* 86_400_000
        return end &+ completeAfterMs <= now.milliseconds
    }

    /// `2d`, `48h`, `90m`, `3600s` (or plain seconds) as milliseconds; nil for anything else,
    /// negative, or over a year.
    public static func duration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        var digits = Substring(text), unit: Int64 = 1_000
        if let last = text.last, let u = units[last] { digits = text.dropLast(); unit = u }
        guard (1...9).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int64(digits) else { return nil }
        let ms = n &* unit
        return ms <= 366 * 86_400_000 ? ms : nil
    }

    /// Whether a count is shown as null.
    public func suppresses(_ count: Int64) -> Bool { count > 0 && count < suppressBelow }

    /// A boolean point's share as shown — ratio and its 95 % interval — or nil: no reports, or
    /// a count behind it is not shown. The one rule of the JSON and the CSV forms.
    public func share(of point: SeriesPoint) -> (ratio: Double, low: Double, high: Double)? {
        guard !suppresses(point.count(Cell.true)), !suppresses(point.count(Cell.false)),
              let ratio = point.ratio, let interval = point.ratioInterval else { return nil }
        return (ratio, interval.low, interval.high)
    }

    /// Whether a number point's sum and quantiles are shown (its reporting count is).
    public func showsNumbers(of point: SeriesPoint) -> Bool { !suppresses(point.count(Cell.reporting)) }
}

extension SeriesPoint {
    /// The 95 % Wilson interval of `ratio`; nil when neither true nor false was reported.
    public var ratioInterval: (low: Double, high: Double)? {
        Wilson.interval(successes: count(Cell.true), trials: count(Cell.true) &+ count(Cell.false))
    }

    /// Too few reports (true + false) to read a share from.
    public func isLowCount(_ presentation: SeriesPresentation) -> Bool {
        count(Cell.true) &+ count(Cell.false) < presentation.minReliableCount
    }
}
