import Testing
@testable import PingRollCore

/// A fleet whose every installation's state is known in every period, silent or not: states
/// move (unknown until an upgrade, false → true as adoption grows, now and then true → false),
/// installations ping with their own reliability, go quiet for a few periods, join and leave.
struct SimulatedFleet {
    struct Member {
        var state: FleetState
        var group: String
        var reliability: Double
        var quietFor = 0
        var joined: Int
        var left = Int.max
    }

    var periods: [(start: Int64, reports: [FleetReport])] = []
    /// Per period: every existing installation's state and group.
    var truth: [[Int64: (group: String, state: FleetState)]] = []

    init(seed: UInt64, installations: Int = 600, periods count: Int = 20, groups: [String] = ["free", "premium", "ultimate"],
         adoption: Double = 0.04, rollback: Double = 0.01, upgrade: Double = 0.08, churn: Double = 0.005) {
        var rng = SplitMix(state: seed)
        func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
        var members: [Member] = []
        func join(_ period: Int) {
            members.append(Member(state: chance(0.3) ? .unknown : (chance(0.15) ? .true : .false), group: groups.randomElement(using: &rng)!,
                                  reliability: Double.random(in: 0.6...0.99, using: &rng), joined: period))
        }
        for _ in 0..<installations { join(0) }
        for period in 0..<count {
            if period > 0 { for _ in 0..<(installations / 100) where chance(0.7) { join(period) } }
            var reports: [FleetReport] = [], states: [Int64: (String, FleetState)] = [:]
            for i in members.indices where members[i].joined <= period && members[i].left > period {
                if chance(churn) { members[i].left = period; continue }
                switch members[i].state {
                case .unknown: if chance(upgrade) { members[i].state = chance(0.2 + adoption) ? .true : .false }
                case .false: if chance(adoption * (members[i].group == "ultimate" ? 2 : 1)) { members[i].state = .true }
                case .true: if chance(rollback) { members[i].state = .false }
                }
                states[Int64(i + 1)] = (members[i].group, members[i].state)
                if members[i].quietFor > 0 { members[i].quietFor -= 1; continue }
                if chance(0.03) { members[i].quietFor = Int.random(in: 1...5, using: &rng); continue }
                guard chance(members[i].reliability) else { continue }
                reports.append(FleetReport(installation: Int64(i + 1), group: members[i].group, state: members[i].state))
            }
            periods.append((Int64(20_000 + 7 * period), reports))
            truth.append(states)
        }
    }
}

@Suite struct EstimateTests {
    @Test func backtestCoverageLiesBetween90And99PercentOnSimulatedFleets() {
        for seed: UInt64 in [1, 2, 3] {
            let fleet = SimulatedFleet(seed: seed)
            for method in EstimateMethod.allCases {
                let backtest = EstimateBacktest(method: method, lookback: 8, hide: 0.2, seeds: 10)
                let r = backtest.run(fleet.periods)
                #expect(r.cases >= 500, "seed \(seed) \(method): \(r.cases) cases")
                let coverage = r.coverage ?? 0
                #expect((0.90...0.99).contains(coverage), "seed \(seed) \(method): coverage \(coverage)")
                #expect((r.mape ?? 1) < 0.08, "seed \(seed) \(method): MAPE \(r.mape ?? -1)")
                // Deterministic: the same seeds hide the same installations.
                #expect(backtest.run(fleet.periods) == r)
            }
        }
    }

    /// Not a backtest: the installations that really were silent, whose state the simulation knows.
    @Test func lastValueIntervalHoldsTheTrueCountOfSilentInstallations() {
        var cases = 0, covered = 0
        for seed: UInt64 in 1...10 {
            let fleet = SimulatedFleet(seed: seed, churn: 0)
            var timeline = FleetTimeline(lookback: 8)
            for (i, period) in fleet.periods.enumerated() {
                let p = timeline.advance(start: period.start, reports: period.reports)
                guard i >= 8 else { continue }
                let points = FleetTimeline.estimate(p, method: .lastValue, lookback: 8)
                var truth: [String: Int64] = [:]
                for r in period.reports where r.state == .true { truth[r.group, default: 0] += 1 }
                for (report, _) in p.silent where fleet.truth[i][report.installation]?.state == .true { truth[report.group, default: 0] += 1 }
                for (group, point) in points {
                    #expect(point.silent == Int64(p.silent.count { $0.report.group == group }))
                    let t = Double(truth[group] ?? 0)
                    cases += 1
                    if point.estimatedTrueLow! <= t && t <= point.estimatedTrueHigh! { covered += 1 }
                }
            }
        }
        let coverage = Double(covered) / Double(cases)
        #expect(cases == 360)
        #expect((0.90...0.99).contains(coverage), "coverage \(coverage)")
    }

    @Test func silentInstallationsCountWithTheirCalibratedChanceAndTheReportersExactly() {
        // 40 reporters that went false → true at age 1 in 10 of 40 pairs; 4 silent that last said false.
        var t = TransitionCounts(lookback: 8)
        t.add(from: .false, age: 1, to: .true, 10)
        t.add(from: .false, age: 1, to: .false, 30)
        var silent = Estimator.SilentCounts(lookback: 8)
        for _ in 0..<4 { silent.add(state: .false, age: 1) }
        var point = EstimatePoint(period: 0)
        point.trueCount = 10
        point.falseCount = 30
        Estimator.lastValue(&point, silent: silent, transitions: [t])
        let p = 10.5 / 41
        #expect(abs(point.estimatedTrue! - (10 + 4 * p)) < 1e-9)
        let variance = 4 * p * (1 - p) + 16 * p * (1 - p) / 42
        #expect(abs(point.estimatedTrueHigh! - (10 + 4 * p + Wilson.z95 * variance.squareRoot())) < 1e-9)
        #expect(point.estimatedTrueLow! == 10, "never below the reporters' true")
        #expect(point.estimatedTotal! == 44)
    }

    @Test func fewPairsAtAnAgePoolTheNeighbouringAges() {
        var t = TransitionCounts(lookback: 8)
        t.add(from: .true, age: 3, to: .true, 5)
        t.add(from: .true, age: 4, to: .false, 10)
        t.add(from: .true, age: 5, to: .true, 5)
        // Age 4 alone: 10 pairs; with age 5: 15; with age 3 too: 20, enough.
        let c = Estimator.calibrated([t], from: .true, age: 4)!
        #expect(c.pairs == 20)
        #expect(abs(c.pTrue - 10.5 / 21) < 1e-12)
        #expect(Estimator.calibrated([t], from: .false, age: 1) == nil)
        // A group's own transitions only where it has enough at that very age.
        #expect(Estimator.calibrated([t], from: .true, age: 4, strict: true) == nil)
    }

    @Test func unknownLastValueWithNothingToCalibrateCountsAtTheGroupShare() {
        var silent = Estimator.SilentCounts(lookback: 8)
        silent.add(state: .unknown, age: 2)
        var point = EstimatePoint(period: 0)
        point.trueCount = 30
        point.falseCount = 10
        Estimator.lastValue(&point, silent: silent, transitions: [TransitionCounts(lookback: 8)])
        #expect(point.estimatedTrue == 30.75)
        var empty = EstimatePoint(period: 0)
        Estimator.lastValue(&empty, silent: silent, transitions: [])
        #expect(empty.estimatedTrue == nil)
        #expect(empty.reason != nil)
    }

    @Test func populationScalesTheShareWithAFinitePopulationInterval() {
        var point = EstimatePoint(period: 0)
        point.trueCount = 30
        point.falseCount = 70
        Estimator.population(&point, population: 400)
        #expect(point.estimatedTrue == 120)
        #expect(point.percentReporting == 0.25)
        #expect(point.estimatedTotal == 400)
        // Reference: Wilson at the effective sample size n (N - 1) / (N - n), times N.
        let n = 100.0 * 399 / 300, p = 0.3, z = Wilson.z95
        let center = (p + z * z / (2 * n)) / (1 + z * z / n)
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / (1 + z * z / n)
        #expect(abs(point.estimatedTrueLow! - (center - half) * 400) < 1e-9)
        #expect(abs(point.estimatedTrueHigh! - (center + half) * 400) < 1e-9)
        // Everyone reported: exact.
        var all = EstimatePoint(period: 0)
        all.trueCount = 30
        all.falseCount = 70
        Estimator.population(&all, population: 100)
        #expect(all.estimatedTrueLow == 30 && all.estimatedTrueHigh == 30 && all.reason == nil)
        var stale = all
        stale.estimatedTrue = nil
        Estimator.population(&stale, population: 80)
        #expect(stale.estimatedTrue == 30 && stale.reason?.contains("out of date") == true)
        var none = EstimatePoint(period: 0)
        Estimator.population(&none, population: nil)
        #expect(none.estimatedTrue == nil && none.reason?.contains("no population") == true)
    }

    @Test func populationCSVErrorsNameTheRowAndColumn() throws {
        let good = "period_start,dimension,value,installations\n2026-11,all,,900\n2026-11-01,tier,premium,300\n"
        let rows = try PopulationCSV.parse(good)
        #expect(rows == [PopulationRow(periodStart: days(isoDate: "2026-11-01")!, dimension: "all", value: "all", installations: 900),
                         PopulationRow(periodStart: days(isoDate: "2026-11-01")!, dimension: "tier", value: "premium", installations: 300)])
        let cases: [(String, Int, String?)] = [
            ("period_start,dimension,value\n", 1, "installations"),
            ("period_start,dimension,value,installations,extra\n", 1, "extra"),
            ("period_start,dimension,value,installations\n2026-11-01,all,,12\n2026-13-01,all,,5\n", 3, "period_start"),
            ("period_start,dimension,value,installations\n2026-11-01,planet,x,5\n", 2, "dimension"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,,5\n", 2, "value"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,free,-5\n", 2, "installations"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,free,99999999999999999999\n", 2, "installations"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,free,1\n2026-11-01,tier,free,2\n", 3, nil),
            ("period_start,dimension,value,installations\n2026-11-01,tier\n", 2, nil),
            ("period_start,dimension,value,installations\n2026-11-01,tier,fr\u{0}ee,5\n", 2, "value"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,\(String(repeating: "x", count: 201)),5\n", 2, "value"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,free,0\n", 2, "installations"),
            ("period_start,dimension,value,installations\n2026-11-01,tier,free,1e3\n", 2, "installations"),
        ]
        for (csv, row, column) in cases {
            #expect(throws: PopulationCSV.Problem.self) { try PopulationCSV.parse(csv) }
            do { _ = try PopulationCSV.parse(csv) } catch {
                #expect(error.row == row, "\(csv): \(error)")
                #expect(error.column == column, "\(csv): \(error)")
            }
        }
    }

    @Test func aPopulationRowHoldsFor31DaysFromItsStart() {
        let nov = days(isoDate: "2026-11-01")!
        let table = PopulationTable([PopulationRow(periodStart: nov, dimension: "all", value: "all", installations: 9)])
        #expect(table.installations(dimension: "all", value: "all", periodStart: nov) == 9)
        #expect(table.installations(dimension: "all", value: "all", periodStart: nov + 31) == 9)
        #expect(table.installations(dimension: "all", value: "all", periodStart: nov + 32) == nil)
        #expect(table.installations(dimension: "all", value: "all", periodStart: nov - 1) == nil)
        #expect(table.installations(dimension: "tier", value: "all", periodStart: nov) == nil)
    }

    @Test func estimateQueryRefusesWhatItCannotEstimate() throws {
        let catalog = try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8))
        let base = [("metric", "container_registry_server.db_enabled"), ("interval", "week"), ("from", "2026-11-02"), ("to", "2026-11-30")]
        let q = try EstimateQuery.parse(base, catalog: catalog)
        #expect(q.method == .lastValue && q.lookback == 8)
        #expect(try EstimateQuery.parse(base.map { $0.0 == "interval" ? ("interval", "month") : $0 }, catalog: catalog).lookback == 3)
        let number = catalog.metrics.first { $0.valueType == .number }!.keyPath
        for (arguments, parameter) in [(base + [("metric", number)], "metric"), (base + [("interval", "day")], "interval"),
                                       (base + [("lookback", "0")], "lookback"), (base + [("lookback", "53")], "lookback"),
                                       (base + [("method", "magic")], "method"), (base + [("to", "2030-01-01")], "from")] {
            #expect(throws: QueryError.self) { try EstimateQuery.parse(arguments, catalog: catalog) }
            do { _ = try EstimateQuery.parse(arguments, catalog: catalog) } catch { #expect(error.parameter == parameter) }
        }
        #expect(q.populationKey(group: "all")! == ("all", "all"))
        var filtered = q
        filtered.series.filters = [.tier: ["premium"]]
        #expect(filtered.populationKey(group: "all")! == ("tier", "premium"))
        filtered.series.groupBy = .edition
        #expect(filtered.populationKey(group: "EE") == nil)
    }
}

@Suite struct EstimatePanelTests {
    static func dashboard(_ query: String, chart: String = "line") throws(CatalogError) -> Dashboard {
        let catalog = try! MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8))
        return try Dashboard(json: Array(#"{"slug":"d","title":"D","panels":[{"id":"p","title":"P","chart":"\#(chart)","query":\#(query)}]}"#.utf8), catalog: catalog)
    }

    @Test func anEstimatePanelNeedsABooleanMetricByWeekOrMonth() throws {
        let ok = try Self.dashboard(#"{"source":"estimate","metric":"container_registry_server.db_enabled","value":"estimated_true","method":"population","lookback":4}"#)
        #expect(ok.panels[0].query.method == .population && ok.panels[0].query.lookback == 4)
        for (query, chart) in [(#"{"source":"estimate","metric":"active_user_count","value":"estimated_true"}"#, "line"),
                               (#"{"source":"estimate","metric":"container_registry_server.db_enabled","value":"ratio"}"#, "line"),
                               (#"{"source":"estimate","metric":"container_registry_server.db_enabled","value":"silent","interval":"day"}"#, "line"),
                               (#"{"source":"estimate","metric":"container_registry_server.db_enabled","value":"silent","lookback":0}"#, "line"),
                               (#"{"source":"estimate","metric":"container_registry_server.db_enabled","value":"silent"}"#, "table"),
                               (#"{"source":"estimate","metric":"container_registry_server.db_enabled","value":"silent","method":"magic"}"#, "line")] {
            #expect(throws: CatalogError.self, "\(query)") { try Self.dashboard(query, chart: chart) }
        }
    }
}
