/// Estimates of a boolean metric that count the installations that did not report: the
/// arithmetic of `GET /api/v1/estimate` and `pingroll estimate backtest`, fed one period at a
/// time with what each installation's latest ping of the period said.

/// What an installation's latest ping of a period said of a boolean metric.
public enum FleetState: Int, Sendable, CaseIterable {
    case `true` = 0, `false` = 1
    /// `unknown` or `not_collected`: nothing either way.
    case unknown = 2

    public init(cell: String) {
        self = switch cell {
        case Cell.true.rawValue: .true
        case Cell.false.rawValue: .false
        default: .unknown
        }
    }

    var isKnown: Bool { self != .unknown }
}

/// One installation's latest ping of a period.
public struct FleetReport: Sendable, Equatable {
    public var installation: Int64
    /// Its group (the `group_by` dimension's value, `all` without one).
    public var group: String
    /// Whether the ping passes the query's filters. One that does not still ends the
    /// installation's silence: it reported, elsewhere.
    public var counted: Bool
    public var state: FleetState

    public init(installation: Int64, group: String, counted: Bool = true, state: FleetState) {
        self.installation = installation
        self.group = group
        self.counted = counted
        self.state = state
    }
}

public enum EstimateMethod: String, Codable, Sendable, CaseIterable {
    /// Each silent installation as its latest report, with the chance it changed since measured
    /// on the installations that came back after as long a silence.
    case lastValue = "last_value"
    /// GitLab's formula: true ÷ (reporting ÷ population), against an uploaded population.
    case population
}

/// The population reporters are drawn from, per period and group (`PUT /api/v1/population`).
public struct PopulationRow: Sendable, Equatable, Hashable {
    /// The first day it holds for (days since 1970-01-01).
    public var periodStart: Int64
    /// A series dimension, or `all`.
    public var dimension: String
    public var value: String
    public var installations: Int64

    public init(periodStart: Int64, dimension: String, value: String, installations: Int64) {
        self.periodStart = periodStart
        self.dimension = dimension
        self.value = value
        self.installations = installations
    }

    /// A row applies to the periods starting on its day and up to this many days after it
    /// (a month's row serves that month's weeks).
    public static let validDays: Int64 = 31
}

/// One group's figures in one period.
public struct EstimatePoint: Sendable, Equatable {
    public var period: Int64
    /// Installations counted with a ping in the period (any value).
    public var reported: Int64 = 0
    /// `reported` of the period before; nil for the first period read.
    public var expected: Int64?
    public var trueCount: Int64 = 0
    public var falseCount: Int64 = 0
    /// Installations with a ping in one of the `lookback` periods before and none in this one.
    public var silent: Int64 = 0
    public var estimatedTrue: Double?
    public var estimatedTrueLow: Double?
    public var estimatedTrueHigh: Double?
    public var estimatedTotal: Double?
    /// `population` only: the population used and reporting ÷ population.
    public var population: Int64?
    public var percentReporting: Double?
    /// Why the estimate is null (or what to read it with).
    public var reason: String?

    public init(period: Int64) { self.period = period }

    public var reporting: Int64 { trueCount &+ falseCount }
    public var ratio: Double? { reporting == 0 ? nil : Double(trueCount) / Double(reporting) }
    public var interval: (low: Double, high: Double)? { Wilson.interval(successes: trueCount, trials: reporting) }
}

/// How often a value changed between an installation's report and its next one, by the value
/// and by how many periods lay between them (its "age"): the calibration of `last_value`.
public struct TransitionCounts: Sendable, Equatable {
    public let lookback: Int
    /// [from][age - 1][to]
    var counts: [Int64]

    public init(lookback: Int) {
        self.lookback = lookback
        counts = Array(repeating: 0, count: 3 * lookback * 3)
    }

    func index(_ from: FleetState, _ age: Int, _ to: FleetState) -> Int { (from.rawValue * lookback + age - 1) * 3 + to.rawValue }

    public mutating func add(from: FleetState, age: Int, to: FleetState, _ n: Int64 = 1) {
        guard (1...lookback).contains(age) else { return }
        counts[index(from, age, to)] &+= n
    }

    public func count(from: FleetState, ages: ClosedRange<Int>, to: FleetState) -> Int64 {
        ages.reduce(0) { $0 &+ counts[index(from, $1, to)] }
    }

    public func pairs(from: FleetState, ages: ClosedRange<Int>) -> Int64 {
        FleetState.allCases.reduce(0) { $0 &+ count(from: from, ages: ages, to: $1) }
    }
}

/// The estimate formulas, free of storage: `lastValue` and `population` for one group and period.
public enum Estimator {
    /// Pairs needed before an age's own transitions are used; fewer pool the neighbouring ages.
    public static let minPairs: Int64 = 20

    /// Silent installations of one group: how many last said `state`, `age` periods ago.
    public struct SilentCounts: Sendable, Equatable {
        let lookback: Int
        /// [state][age - 1]
        var counts: [Int64]

        public init(lookback: Int) {
            self.lookback = lookback
            counts = Array(repeating: 0, count: 3 * lookback)
        }

        public mutating func add(state: FleetState, age: Int) {
            guard (1...lookback).contains(age) else { return }
            counts[state.rawValue * lookback + age - 1] &+= 1
        }

        public func count(_ state: FleetState, age: Int) -> Int64 { counts[state.rawValue * lookback + age - 1] }
        public var total: Int64 { counts.reduce(0, &+) }
    }

    /// The chance a silent installation that last said `from`, `age` periods ago, says true now
    /// (and says anything known), and how many pairs that rests on. Read from the transitions of
    /// `history` (one per period, newest last: the current period's reporters last), the newest
    /// first: the transitions at exactly that age in as few recent periods as give `minPairs`
    /// (adoption moves, so the latest periods speak best for this one); else (unless `strict`)
    /// those of all the periods, the nearest ages pooled until `minPairs`. Nil: no pair at all.
    static func calibrated(_ history: [TransitionCounts], from: FleetState, age: Int, strict: Bool = false) -> (pTrue: Double, pKnown: Double, pairs: Int64, source: String)? {
        guard let lookback = history.last?.lookback else { return nil }
        func tally(_ depth: Int, _ ages: ClosedRange<Int>) -> (yes: Int64, known: Int64, n: Int64) {
            var yes: Int64 = 0, no: Int64 = 0, n: Int64 = 0
            for t in history.suffix(depth) {
                yes &+= t.count(from: from, ages: ages, to: .true)
                no &+= t.count(from: from, ages: ages, to: .false)
                n &+= t.pairs(from: from, ages: ages)
            }
            return (yes, yes &+ no, n)
        }
        var chosen: (yes: Int64, known: Int64, n: Int64)?, source = ""
        for depth in 1...history.count {
            let c = tally(depth, age...age)
            if c.n >= minPairs { chosen = c; source = "\(depth):\(age)"; break }
        }
        if chosen == nil && !strict {
            var ages = age...age
            while tally(history.count, ages).n < minPairs && (ages.lowerBound > 1 || ages.upperBound < lookback) {
                if ages.upperBound < lookback { ages = ages.lowerBound...(ages.upperBound + 1) }
                if tally(history.count, ages).n < minPairs && ages.lowerBound > 1 { ages = (ages.lowerBound - 1)...ages.upperBound }
            }
            chosen = tally(history.count, ages)
            source = "all:\(ages)"
        }
        guard let c = chosen, c.n > 0 else { return nil }
        // Jeffreys' posterior mean: never exactly 0 or 1 from a few pairs that all agreed.
        return ((Double(c.yes) + 0.5) / (Double(c.n) + 1), Double(c.known) / Double(c.n), c.n, "\(strict ? "group" : "all"):\(from.rawValue):" + source)
    }

    /// `last_value`: the reporters' true plus, for each silent installation, the calibrated
    /// chance it is true now. The variance adds each silent installation's own (Bernoulli) and
    /// that of the calibrated chances (binomial, shared by every installation using them).
    /// The transitions are the group's own where it has `minPairs` of them at the age, else
    /// those of all groups. A silent installation whose value was unknown, where no unknown was
    /// ever seen to report again, counts at the group's share.
    public static func lastValue(_ point: inout EstimatePoint, silent: SilentCounts, transitions: [TransitionCounts],
                                 groupTransitions: [TransitionCounts] = []) {
        let t = Double(point.trueCount)
        var mean = t, total = Double(point.reporting), variance = 0.0
        var shared: [String: (coefficient: Double, variance: Double)] = [:]
        let share = point.ratio
        for state in FleetState.allCases {
            for age in 1...silent.lookback {
                let c = silent.count(state, age: age)
                guard c > 0 else { continue }
                let n = Double(c)
                let pTrue: Double, pKnown: Double, key: String, parameterVariance: Double
                if let cal = calibrated(groupTransitions, from: state, age: age, strict: true) ?? calibrated(transitions, from: state, age: age) {
                    (pTrue, pKnown) = (cal.pTrue, cal.pKnown)
                    key = cal.source
                    // The variance of Jeffreys' posterior, Beta(yes + ½, no + ½).
                    parameterVariance = pTrue * (1 - pTrue) / (Double(cal.pairs) + 2)
                } else if state == .unknown {
                    guard let share else {
                        point.reason = "silent installations whose last value was unknown, and no reporter in the group to take a share from"
                        return
                    }
                    (pTrue, pKnown, key) = (share, 1, "share")
                    parameterVariance = share * (1 - share) / Double(point.reporting)
                } else {
                    // Nothing ever came back to measure a change on: the value as last said.
                    (pTrue, pKnown, key, parameterVariance) = (state == .true ? 1 : 0, 1, "\(state.rawValue)", 0)
                }
                mean += n * pTrue
                total += n * pKnown
                variance += n * pTrue * (1 - pTrue)
                shared[key, default: (0, parameterVariance)].coefficient += n
            }
        }
        for (_, s) in shared { variance += s.coefficient * s.coefficient * s.variance }
        let half = Wilson.z95 * variance.squareRoot()
        let most = t + Double(silent.total)
        point.estimatedTrue = mean
        point.estimatedTrueLow = min(max(t, mean - half), most)
        point.estimatedTrueHigh = max(min(most, mean + half), t)
        point.estimatedTotal = total
    }

    /// `population`: true ÷ (reporting ÷ population), its interval the Wilson interval of the
    /// share with the finite-population correction (reporters are a sample without replacement
    /// of the population), scaled to it.
    public static func population(_ point: inout EstimatePoint, population: Int64?) {
        guard let population, population > 0 else {
            point.reason = "no population for this period and group (PUT /api/v1/population)"
            return
        }
        point.population = population
        let n = point.reporting
        guard n > 0 else {
            point.reason = "no installation reported a value"
            return
        }
        point.percentReporting = Double(n) / Double(population)
        let t = Double(point.trueCount)
        guard n < population else {
            if n > population { point.reason = "more installations reported (\(n)) than the population holds (\(population)): it is out of date" }
            point.estimatedTrue = t
            point.estimatedTrueLow = t
            point.estimatedTrueHigh = t
            point.estimatedTotal = Double(n)
            return
        }
        let big = Double(population), p = t / Double(n)
        // Effective sample size under the finite-population correction (N - n) / (N - 1).
        let effective = Double(n) * (big - 1) / (big - Double(n))
        let z2 = Wilson.z95 * Wilson.z95
        let denominator = 1 + z2 / effective
        let center = (p + z2 / (2 * effective)) / denominator
        let half = Wilson.z95 * (p * (1 - p) / effective + z2 / (4 * effective * effective)).squareRoot() / denominator
        let most = t + (big - Double(n))
        point.estimatedTrue = p * big
        point.estimatedTrueLow = min(max(t, (center - half) * big), most)
        point.estimatedTrueHigh = max(min(most, (center + half) * big), t)
        point.estimatedTotal = big
    }
}

/// Feeds periods in order and keeps, per installation, only its latest report: memory follows
/// the number of installations, not of pings.
public struct FleetTimeline: Sendable {
    public let lookback: Int
    struct Last: Sendable {
        var index: Int
        var report: FleetReport
    }
    var last: [Int64: Last] = [:]
    var index = 0
    /// The transitions seen in each of the last `lookback - 1` periods (oldest first), per group
    /// of the later report.
    var window: [[String: TransitionCounts]] = []
    var previousReported: [String: Int64]?

    public init(lookback: Int) { self.lookback = max(1, lookback) }

    /// What one period looks like before any estimate: who reported, who fell silent, and the
    /// transitions of the reporters.
    public struct Period: Sendable {
        public var start: Int64
        public var reports: [FleetReport]
        /// Per reporter with an earlier report in the lookback: that report and its age.
        public var previous: [Int64: (report: FleetReport, age: Int)]
        /// Installations silent in this period with their last counted report.
        public var silent: [(report: FleetReport, age: Int)]
        /// Transitions of the `lookback - 1` periods before, all reporters, oldest first, per group.
        public var earlierTransitions: [[String: TransitionCounts]]
        public var previousReported: [String: Int64]?
    }

    /// Reads one period's reports (each installation at most once) and moves on.
    public mutating func advance(start: Int64, reports: [FleetReport]) -> Period {
        var previous: [Int64: (report: FleetReport, age: Int)] = [:]
        var seen = Set<Int64>()
        var transitions: [String: TransitionCounts] = [:]
        for r in reports where seen.insert(r.installation).inserted {
            if let l = last[r.installation], index - l.index <= lookback {
                previous[r.installation] = (l.report, index - l.index)
                if l.report.counted && r.counted {
                    transitions[r.group, default: TransitionCounts(lookback: lookback)].add(from: l.report.state, age: index - l.index, to: r.state)
                }
            }
        }
        var silent: [(FleetReport, Int)] = []
        for (id, l) in last where !seen.contains(id) && l.report.counted && index - l.index <= lookback {
            silent.append((l.report, index - l.index))
        }
        silent.sort { $0.0.installation < $1.0.installation }
        let period = Period(start: start, reports: reports, previous: previous, silent: silent, earlierTransitions: window,
                            previousReported: previousReported)
        // Move on: the latest report of each, the window of transitions, what was reported.
        for r in reports { last[r.installation] = Last(index: index, report: r) }
        window.append(transitions)
        if window.count >= lookback { window.removeFirst(window.count - (lookback - 1)) }
        var reported: [String: Int64] = [:]
        for r in reports where r.counted { reported[r.group, default: 0] += 1 }
        previousReported = reported
        index += 1
        // Installations silent for longer than the lookback are forgotten.
        if index % 16 == 0 { last = last.filter { index - $0.value.index <= lookback } }
        return period
    }

    /// The period's figures per group, estimated by `method`. `hidden` (the backtest): these
    /// reporters are treated as if they had not, and they are the only silent ones (whose truth
    /// is known) — each under the group and with the state of its report before, its own
    /// transition unseen. `population` gives a group's population for the period.
    public static func estimate(_ p: Period, method: EstimateMethod, lookback: Int, hidden: Set<Int64>? = nil,
                                population: (String) -> Int64? = { _ in nil }) -> [String: EstimatePoint] {
        var points: [String: EstimatePoint] = [:]
        var transitions: [String: TransitionCounts] = [:]
        var silentCounts: [String: Estimator.SilentCounts] = [:]
        for r in p.reports {
            if let hidden, hidden.contains(r.installation) {
                if let before = p.previous[r.installation], before.report.counted {
                    silentCounts[before.report.group, default: .init(lookback: lookback)].add(state: before.report.state, age: before.age)
                    points[before.report.group, default: EstimatePoint(period: p.start)].silent += 1
                }
                continue
            }
            if let before = p.previous[r.installation], before.report.counted, r.counted {
                transitions[r.group, default: TransitionCounts(lookback: lookback)].add(from: before.report.state, age: before.age, to: r.state)
            }
            guard r.counted else { continue }
            points[r.group, default: EstimatePoint(period: p.start)].reported += 1
            switch r.state {
            case .true: points[r.group, default: EstimatePoint(period: p.start)].trueCount += 1
            case .false: points[r.group, default: EstimatePoint(period: p.start)].falseCount += 1
            case .unknown: break
            }
        }
        if hidden == nil {
            for (report, age) in p.silent {
                silentCounts[report.group, default: .init(lookback: lookback)].add(state: report.state, age: age)
                points[report.group, default: EstimatePoint(period: p.start)].silent += 1
            }
        }
        // All groups' transitions, per period: only `last_value` reads them.
        let pooled = method != .lastValue ? [] : (p.earlierTransitions + [transitions]).map { byGroup in
            byGroup.values.reduce(into: TransitionCounts(lookback: lookback)) { sum, t in for i in sum.counts.indices { sum.counts[i] &+= t.counts[i] } }
        }
        for group in points.keys {
            if hidden == nil { points[group]!.expected = p.previousReported.map { $0[group] ?? 0 } }
            switch method {
            case .lastValue:
                Estimator.lastValue(&points[group]!, silent: silentCounts[group] ?? .init(lookback: lookback), transitions: pooled,
                                    groupTransitions: (p.earlierTransitions + [transitions]).map { $0[group] ?? TransitionCounts(lookback: lookback) })
            case .population:
                Estimator.population(&points[group]!, population: population(group))
            }
        }
        return points
    }
}

/// `pingroll estimate backtest`: hides a random share of each period's reporters, estimates them
/// back as silent (their pings still inform the periods after), and compares with what they
/// really said.
public struct EstimateBacktest: Sendable {
    public var method: EstimateMethod
    public var lookback: Int
    /// The share of each period's (and group's) counted reporters hidden, 0 < hide < 1.
    public var hide: Double
    public var seeds: Int

    public init(method: EstimateMethod, lookback: Int, hide: Double = 0.2, seeds: Int = 20) {
        self.method = method
        self.lookback = lookback
        self.hide = hide
        self.seeds = seeds
    }

    public struct Result: Sendable, Equatable {
        /// Period × group × seed cases with at least one hidden installation the method could see.
        public var cases = 0
        /// Of those, how many had the truth inside the 95 % interval.
        public var covered = 0
        /// Mean |estimated_true − truth| ÷ truth over the cases with truth > 0.
        public var mape: Double?
        /// Mean (high − low) ÷ truth, the interval's relative width.
        public var meanRelativeWidth: Double?
        public var periods = 0
        public var hiddenPerCase: Double = 0

        public var coverage: Double? { cases == 0 ? nil : Double(covered) / Double(cases) }

        public init() {}
    }

    /// `periods` in order, each with its reports (as `FleetTimeline.advance` takes them).
    public func run(_ periods: [(start: Int64, reports: [FleetReport])]) -> Result {
        var result = Result()
        var errors: [Double] = [], widths: [Double] = [], hiddenTotal = 0
        var evaluated = Set<Int64>()
        for seed in 0..<max(1, seeds) {
            var rng = SplitMix(state: 0x5EED_0000 &+ UInt64(seed))
            var timeline = FleetTimeline(lookback: lookback)
            for (start, reports) in periods {
                let p = timeline.advance(start: start, reports: reports)
                // Hide the share in each group, so that small groups are tested too.
                var byGroup: [String: [FleetReport]] = [:]
                for r in reports where r.counted { byGroup[r.group, default: []].append(r) }
                var hidden = Set<Int64>()
                for group in byGroup.keys.sorted() {
                    var members = byGroup[group]!
                    let k = Int((Double(members.count) * hide).rounded())
                    for i in 0..<min(k, members.count) {
                        let j = Int.random(in: i..<members.count, using: &rng)
                        members.swapAt(i, j)
                        hidden.insert(members[i].installation)
                    }
                }
                guard !hidden.isEmpty else { continue }
                // The truth: what every reporter the method covers said. Last value covers the
                // hidden ones it had seen within the lookback; population covers all.
                var truth: [String: Int64] = [:], covered: [String: Int] = [:], known: [String: Int64] = [:]
                for r in reports where r.counted {
                    if r.state.isKnown { known[r.group, default: 0] += 1 }
                    let seen = p.previous[r.installation].map { $0.report.counted } ?? false
                    if hidden.contains(r.installation) {
                        guard method == .population || seen else { continue }
                        covered[method == .population ? r.group : p.previous[r.installation]!.report.group, default: 0] += 1
                    }
                    if r.state == .true { truth[r.group, default: 0] += 1 }
                }
                let points = FleetTimeline.estimate(p, method: method, lookback: lookback, hidden: hidden, population: { known[$0] })
                for (group, point) in points {
                    guard let n = covered[group], n > 0, let estimate = point.estimatedTrue,
                          let low = point.estimatedTrueLow, let high = point.estimatedTrueHigh else { continue }
                    let t = Double(truth[group] ?? 0)
                    result.cases += 1
                    hiddenTotal += n
                    evaluated.insert(start)
                    if low - 1e-9 <= t && t <= high + 1e-9 { result.covered += 1 }
                    if t > 0 {
                        errors.append(abs(estimate - t) / t)
                        widths.append((high - low) / t)
                    }
                }
            }
        }
        result.periods = evaluated.count
        result.mape = errors.isEmpty ? nil : errors.reduce(0, +) / Double(errors.count)
        result.meanRelativeWidth = widths.isEmpty ? nil : widths.reduce(0, +) / Double(widths.count)
        result.hiddenPerCase = result.cases == 0 ? 0 : Double(hiddenTotal) / Double(result.cases)
        return result
    }
}

public struct EstimateGroup: Sendable, Equatable {
    public var group: String
    public var points: [EstimatePoint]

    public init(group: String, points: [EstimatePoint]) {
        self.group = group
        self.points = points
    }
}
