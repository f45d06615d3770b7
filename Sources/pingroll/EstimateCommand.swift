import ArgumentParser
import Foundation
import PingRollCore
import PingRollService
import PingRollStore

struct EstimateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Measures the error of the estimates that count silent installations.",
        subcommands: [Backtest.self]
    )

    struct Backtest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hides a random share of each period's reporters, estimates them back, and prints the error.",
            discussion: """
                For each of --seeds seeds and each period of the metric's history (or --from … --to), \
                a random --hide share of the installations that reported (in each group) is treated as \
                silent: their pings still inform the periods after, not this one. The estimate is \
                compared with what they really said: the mean absolute percentage error (MAPE) of \
                estimated_true, and the share of period × group × seed cases whose 95 % interval holds \
                the truth (coverage). last_value covers the hidden installations seen within the \
                lookback; population uses the reporters with a known value before hiding as the \
                population, so it measures the sampling error, not whether an uploaded population is right. \
                All periods are read into memory (one report per installation and period).
                """
        )
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @Option(help: ArgumentHelp("A boolean catalog metric.", valueName: "key_path")) var metric: String
        @Option(help: "week or month.") var interval: String = "week"
        @Option(help: "The share of each period's reporters hidden, from 0.01 to 0.9.") var hide: Double = 0.2
        @Option(help: "How many random hidings (1 to 1000).") var seeds: Int = 20
        @Option(help: "last_value or population.") var method: String = EstimateMethod.lastValue.rawValue
        @Option(help: "Periods a silent installation's last ping may lie back (default 8 weeks or 3 months).") var lookback: Int?
        @Option(name: .customLong("group-by"), help: "A dimension to estimate each group of.") var groupBy: String?
        @Option(help: ArgumentHelp("DIMENSION:VALUE[,...] as in the API (repeatable).", valueName: "filter")) var filter: [String] = []
        @Flag(name: .customLong("include-internal"), help: "Count GitLab's own installations too.") var includeInternal = false
        @Option(help: "First day (YYYY-MM-DD); default the first period with a ping.") var from: String?
        @Option(help: "Last day (YYYY-MM-DD); default the last period with a ping.") var to: String?
        @Flag(help: "Print JSON.") var json = false

        struct Output: Encodable {
            var metric: String, interval: String, method: String, lookback: Int, hide: Double, seeds: Int
            var from: String?, to: String?, periods: Int, evaluated_periods: Int
            var cases: Int, covered: Int, coverage: Double?, mape: Double?, mean_relative_width: Double?, hidden_per_case: Double
        }

        func validate() throws {
            guard (0.01...0.9).contains(hide) else { throw ValidationError("--hide must be from 0.01 to 0.9 (a share of the reporters)") }
            guard (1...1000).contains(seeds) else { throw ValidationError("--seeds must be from 1 to 1000") }
            guard (from == nil) == (to == nil) else { throw ValidationError("give --from and --to together, or neither for the whole history") }
        }

        func run() throws {
            LanePriority.lowerCurrentThread(to: LanePriority.longWork)
            let (catalog, _) = try catalogOptions.load()
            var arguments: [(String, String)] = [("metric", metric), ("interval", interval), ("method", method),
                                                 ("from", from ?? "1970-01-01"), ("to", to ?? "1970-01-01")]
            arguments += filter.map { ("filter", $0) }
            if let groupBy { arguments.append(("group_by", groupBy)) }
            if let lookback { arguments.append(("lookback", String(lookback))) }
            if includeInternal { arguments.append(("include_internal", "true")) }
            let query: EstimateQuery
            do { query = try EstimateQuery.parse(arguments, catalog: catalog) } catch {
                throw ValidationError("--\(error.parameter.replacingOccurrences(of: "_", with: "-")): \(error.message)")
            }
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            let backtest = EstimateBacktest(method: query.method, lookback: query.lookback, hide: hide, seeds: seeds)
            let outcome: EstimateBacktesting.Outcome
            do { outcome = try EstimateBacktesting.run(store, query: query, backtest: backtest, wholeHistory: from == nil) } catch {
                throw CommandFailure("cannot read the history: \(error.reason)")
            }
            let r = outcome.result
            let output = Output(metric: metric, interval: query.series.interval.rawValue, method: query.method.rawValue, lookback: query.lookback,
                                hide: hide, seeds: seeds, from: outcome.periods.first.map { isoDate(days: $0) }, to: outcome.periods.last.map { isoDate(days: $0) },
                                periods: outcome.periods.count, evaluated_periods: r.periods, cases: r.cases, covered: r.covered,
                                coverage: r.coverage, mape: r.mape, mean_relative_width: r.meanRelativeWidth, hidden_per_case: r.hiddenPerCase)
            if json { try Listing.json(output); return }
            func percent(_ v: Double?) -> String { v.map { String(format: "%.1f %%", $0 * 100) } ?? "n/a" }
            print("estimate backtest of \(metric) by \(output.interval), method \(output.method), lookback \(output.lookback) \(output.interval)s")
            print("periods \(output.from ?? "-") … \(output.to ?? "-") (\(output.periods), \(r.periods) evaluated); hiding \(percent(hide)) of each period's reporters per group; \(seeds) seeds")
            guard r.cases > 0 else {
                print("no case to evaluate: no period had a hidden installation the method could estimate (too little history?)")
                return
            }
            print("cases (period × group × seed): \(r.cases), \(String(format: "%.1f", r.hiddenPerCase)) hidden installations each")
            print("95 % interval coverage: \(percent(r.coverage)) (\(r.covered) of \(r.cases))")
            print("MAPE of estimated_true: \(percent(r.mape))")
            print("mean interval width: \(percent(r.meanRelativeWidth)) of the truth")
        }
    }
}
