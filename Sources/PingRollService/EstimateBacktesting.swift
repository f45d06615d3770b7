import PingRollCore
import PingRollStore

/// `pingroll estimate backtest`: every period of the metric's history read once (all of them
/// are held, one report per installation and period), then `EstimateBacktest` run over them.
public enum EstimateBacktesting {
    public struct Outcome: Sendable {
        public var result: EstimateBacktest.Result
        /// The periods read (the first and last with any ping unless given).
        public var periods: [Int64]
    }

    /// `query`'s metric, interval, group and filters; its range unless `wholeHistory`.
    public static func run(_ store: any PingStore, query: EstimateQuery, backtest: EstimateBacktest, wholeHistory: Bool) throws(StorageError) -> Outcome {
        let q = query.series
        var range = q.from...q.to
        if wholeHistory {
            guard let stored = try store.fleetPeriodRange(interval: q.interval) else { return Outcome(result: .init(), periods: []) }
            range = stored
        }
        var whole = q
        (whole.from, whole.to) = (range.lowerBound, range.upperBound)
        let starts = Array(whole.periodStarts.prefix(EstimateQuery.maxPeriods * 4))
        let filters = q.effectiveFilters
        var periods: [(start: Int64, reports: [FleetReport])] = []
        for s in starts {
            periods.append((s, try store.fleetReports(metric: q.metric, interval: q.interval, periodStart: s, groupBy: q.groupBy, filters: filters)))
        }
        return Outcome(result: backtest.run(periods), periods: starts)
    }
}
