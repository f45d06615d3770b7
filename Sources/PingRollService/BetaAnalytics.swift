import PingRollCore
import PingRollStore

/// A program's aggregates without personal data (no names, e-mails, organizations or texts):
/// what viewers may read. Computed here, once, for the API (and any other front).
public enum BetaAnalytics {
    public struct Summary: Codable, Equatable, Sendable {
        public struct FeedbackWeek: Codable, Equatable, Sendable {
            public var category: String
            public var week: String
            public var count: Int
            public var meanRating: Double

            enum CodingKeys: String, CodingKey { case category, week, count, meanRating = "mean_rating" }
        }

        public var program: String
        public var enrollments: Int
        public var byStatus: [String: Int]
        public var byPhase: [String: Int]
        public var byInstallationType: [String: Int]
        /// From each enrollment's installation's latest ping, read now.
        public var byDbEnabled: [String: Int]
        public var feedbackByCategory: [String: Int]
        public var feedbackByWeek: [FeedbackWeek]

        enum CodingKeys: String, CodingKey {
            case program, enrollments, byStatus = "by_status", byPhase = "by_phase", byInstallationType = "by_installation_type"
            case byDbEnabled = "by_db_enabled", feedbackByCategory = "feedback_by_category", feedbackByWeek = "feedback_by_week"
        }
    }

    public struct Timeline: Codable, Equatable, Sendable {
        public struct Period: Codable, Equatable, Sendable {
            public var period: String
            /// Every status, zeros included, as the history says it was at the period's end.
            public var byStatus: [String: Int]
            /// Enrollments enrolled or further along…
            public var enrolled: Int
            /// …and how many of their installations had the metadata database on by then.
            public var dbEnabled: Int

            enum CodingKeys: String, CodingKey { case period, byStatus = "by_status", enrolled, dbEnabled = "db_enabled" }
        }

        public var program: String
        public var interval: String
        public var periods: [Period]
    }


    /// Counts by status, phase, installation type and live db_enabled; feedback by category and
    /// week with the mean rating.
    /// - Parameter maskFreeText: for viewers: phase labels are masked (`TextMasking`) before
    ///   they are counted.
    public static func summary(_ store: any BetaStoring & PingReading, program: BetaProgram, maskFreeText: Bool = false) throws(StorageError) -> Summary {
        var s = Summary(program: program.slug, enrollments: 0, byStatus: [:], byPhase: [:], byInstallationType: [:], byDbEnabled: [:],
                        feedbackByCategory: [:], feedbackByWeek: [])
        try BetaOperations.forEachEnrollment(store, program.slug) { x throws(StorageError) in
            s.enrollments += 1
            s.byStatus[x.status.rawValue, default: 0] += 1
            s.byPhase[x.phase.map { maskFreeText ? TextMasking.mask($0) : $0 } ?? "unknown", default: 0] += 1
            s.byInstallationType[x.installationType ?? "unknown", default: 0] += 1
            let db = try BetaOperations.liveFacts(store, x)?.dbEnabled.map { $0 ? "true" : "false" } ?? "unknown"
            s.byDbEnabled[db, default: 0] += 1
        }
        var weeks: [[String]: (count: Int, ratingSum: Int)] = [:]
        for f in try store.feedback(program: program.slug) {
            let key = [f.category, isoDate(days: PeriodKind.week.start(of: f.at))]
            weeks[key, default: (0, 0)].count += 1
            weeks[key, default: (0, 0)].ratingSum += f.rating
            s.feedbackByCategory[f.category, default: 0] += 1
        }
        s.feedbackByWeek = weeks.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { key, v in
            Summary.FeedbackWeek(category: key[0], week: key[1], count: v.count, meanRating: Double(v.ratingSum) / Double(v.count))
        }
        return s
    }

    /// Per period overlapping `from...to` (day numbers): enrollments by status at the period's
    /// end (replayed from the history), and of those enrolled or further along, how many had the
    /// metadata database on in their installation's latest ping by then.
    public static func timeline(_ store: any BetaStoring & PingReading, program: BetaProgram, interval: PeriodKind, starts: [Int64]) throws(StorageError) -> Timeline {
        let along: Set<String> = ["enrolled", "importing", "migrated"]
        var byPeriod = starts.map { _ in (statuses: [String: Int](), enrolled: 0, enabled: 0) }
        try BetaOperations.forEachEnrollment(store, program.slug) { x throws(StorageError) in
            let changes = try store.enrollmentHistory(id: x.id).filter { $0.field == "status" }
            let pings = try x.uuid.map { u throws(StorageError) in try store.pingDBFacts(uuid: u).filter { x.hostname == nil || $0.hostname == x.hostname } } ?? []
            for (i, s) in starts.enumerated() {
                let end = interval.next(after: s) * 86_400_000
                guard let status = changes.last(where: { $0.at.milliseconds < end })?.new else { continue }
                byPeriod[i].statuses[status, default: 0] += 1
                if along.contains(status) {
                    byPeriod[i].enrolled += 1
                    if pings.last(where: { $0.recordedAt.milliseconds < end })?.dbEnabled == true { byPeriod[i].enabled += 1 }
                }
            }
        }
        let periods = zip(starts, byPeriod).map { s, p in
            Timeline.Period(period: isoDate(days: s),
                            byStatus: Dictionary(uniqueKeysWithValues: EnrollmentStatus.allCases.map { ($0.rawValue, p.statuses[$0.rawValue] ?? 0) }),
                            enrolled: p.enrolled, dbEnabled: p.enabled)
        }
        return Timeline(program: program.slug, interval: interval.rawValue, periods: periods)
    }
}

/// `GET /api/v1/beta/programs/{slug}/analytics`: how migrations went, the status funnel and
/// feedback, without personal data (enrollment and run ids, no names, e-mails or organizations).
extension BetaAnalytics {
    public struct Analytics: Sendable, Equatable {
        public struct Throughput: Sendable, Equatable {
            public var storageDriver: String
            public var sizeBucket: String
            public var runs = 0, succeeded = 0, failed = 0, aborted = 0, running = 0
            public var durationP50: Double?, durationMax: Double?
            public var downtimeP50: Double?, downtimeMax: Double?
            public var bytesPerHourP50: Double?, bytesPerHourMax: Double?
        }
        public struct Failure: Sendable, Equatable {
            public var key: String
            public var runs: [Int64]
        }
        public struct Stage: Sendable, Equatable {
            public var status: String
            public var reached: Int
            public var current: Int
            /// Days spent in the status, over the stays that ended.
            public var daysP50: Double?, daysP90: Double?
        }
        public struct Stuck: Sendable, Equatable {
            public var enrollment: Int64
            public var status: String
            public var since: Timestamp
            public var days: Double
        }
        public struct FeedbackPeriod: Sendable, Equatable {
            public var category: String
            public var period: String
            public var count: Int
            public var meanRating: Double
        }

        public var throughput: [Throughput] = []
        public var failuresByPhase: [Failure] = []
        public var failuresByMessage: [Failure] = []
        public var funnel: [Stage] = []
        public var stuck: [Stuck] = []
        public var feedback: [FeedbackPeriod] = []
        public var enrollmentsByStatus: [String: Int] = [:]
        /// Of the enrollments enrolled or further along, how many installations report the database on.
        public var enrolledOrFurther = 0
        public var dbEnabled = 0
    }

    static let gib: Double = 1_073_741_824

    /// `< 100 GiB`, `100 GiB–1 TiB`, `1–10 TiB`, `≥ 10 TiB`, or `unknown` without a size.
    public static func sizeBucket(_ bytes: Int64?) -> String {
        guard let bytes else { return "unknown" }
        let b = Double(bytes)
        if b < 100 * gib { return "<100GiB" }
        if b < 1024 * gib { return "100GiB-1TiB" }
        if b < 10 * 1024 * gib { return "1TiB-10TiB" }
        return ">=10TiB"
    }


    /// Runs started in `fromDay...toDay` and feedback given then; the funnel and stuck list over
    /// every enrollment of the program, as of `now`.
    /// - Parameter maskFreeText: for viewers: e-mail addresses, URLs, hosts and paths in the
    ///   error messages are masked (`TextMasking`) before the messages are grouped.
    public static func analytics(_ store: any PingStore, program: BetaProgram, fromDay: Int64, toDay: Int64, interval: PeriodKind,
                                 stuckAfterDays: Int, now: Timestamp, maskFreeText: Bool = false) throws(StorageError) -> Analytics {
        var a = Analytics()
        let from = fromDay * 86_400_000, to = (toDay + 1) * 86_400_000
        let runs = try store.runs(program: program.slug).filter { $0.startedAt.milliseconds >= from && $0.startedAt.milliseconds < to }
        var groups: [[String]: (Analytics.Throughput, durations: [Double], downtimes: [Double], rates: [Double])] = [:]
        var byPhase: [String: [Int64]] = [:], byMessage: [String: [Int64]] = [:]
        for run in runs {
            let key = [run.storageDriver ?? "unknown", sizeBucket(run.sizeBytes)]
            var g = groups[key] ?? (Analytics.Throughput(storageDriver: key[0], sizeBucket: key[1]), [], [], [])
            g.0.runs += 1
            switch run.outcome {
            case .succeeded:
                g.0.succeeded += 1
                if let d = run.totalSeconds { g.durations.append(d) }
                if let w = run.downtimeSeconds { g.downtimes.append(w) }
                if let d = run.totalSeconds, d > 0, let size = run.sizeBytes { g.rates.append(Double(size) / (d / 3600)) }
            case .failed:
                g.0.failed += 1
                let failing = run.phases.first { $0.error != nil }
                byPhase[failing?.name.rawValue ?? "unknown", default: []].append(run.id)
                let message = InstrumentationHealth.normalize(failing?.error ?? "")
                byMessage[maskFreeText ? TextMasking.mask(message) : message, default: []].append(run.id)
            case .aborted: g.0.aborted += 1
            case .running: g.0.running += 1
            }
            groups[key] = g
        }
        a.throughput = groups.values.map { g in
            var t = g.0
            t.durationP50 = InstrumentationHealth.nearestRank(g.durations, 0.5); t.durationMax = g.durations.max()
            t.downtimeP50 = InstrumentationHealth.nearestRank(g.downtimes, 0.5); t.downtimeMax = g.downtimes.max()
            t.bytesPerHourP50 = InstrumentationHealth.nearestRank(g.rates, 0.5).map { $0.rounded() }; t.bytesPerHourMax = g.rates.max().map { $0.rounded() }
            return t
        }.sorted { ($0.storageDriver, bucketOrder($0.sizeBucket)) < ($1.storageDriver, bucketOrder($1.sizeBucket)) }
        let order: ([String: [Int64]]) -> [Analytics.Failure] = { m in
            m.map { Analytics.Failure(key: $0.key, runs: $0.value.sorted()) }.sorted { ($1.runs.count, $0.key) < ($0.runs.count, $1.key) }
        }
        a.failuresByPhase = order(byPhase)
        a.failuresByMessage = order(byMessage)

        // The funnel, replayed from each enrollment's status history.
        var reached: [String: Int] = [:], current: [String: Int] = [:], stays: [String: [Double]] = [:]
        let watched: Set<EnrollmentStatus> = [.enrolled, .importing, .blocked]
        let along: Set<EnrollmentStatus> = [.enrolled, .importing, .migrated]
        try BetaOperations.forEachEnrollment(store, program.slug) { x throws(StorageError) in
            let changes = try store.enrollmentHistory(id: x.id).filter { $0.field == "status" && $0.new != nil }
            var seen = Set<String>()
            for (k, c) in changes.enumerated() {
                guard let status = c.new else { continue }
                if seen.insert(status).inserted { reached[status, default: 0] += 1 }
                if k + 1 < changes.count {
                    stays[status, default: []].append(Double(changes[k + 1].at.milliseconds - c.at.milliseconds) / 86_400_000)
                }
            }
            current[x.status.rawValue, default: 0] += 1
            a.enrollmentsByStatus[x.status.rawValue, default: 0] += 1
            if watched.contains(x.status), let since = changes.last?.at {
                let days = Double(now.milliseconds - since.milliseconds) / 86_400_000
                if days > Double(stuckAfterDays) { a.stuck.append(Analytics.Stuck(enrollment: x.id, status: x.status.rawValue, since: since, days: (days * 10).rounded() / 10)) }
            }
            if along.contains(x.status) {
                a.enrolledOrFurther += 1
                if try BetaOperations.liveFacts(store, x)?.dbEnabled == true { a.dbEnabled += 1 }
            }
        }
        a.funnel = EnrollmentStatus.allCases.map { s in
            Analytics.Stage(status: s.rawValue, reached: reached[s.rawValue] ?? 0, current: current[s.rawValue] ?? 0,
                            daysP50: InstrumentationHealth.nearestRank(stays[s.rawValue] ?? [], 0.5).map { ($0 * 10).rounded() / 10 },
                            daysP90: InstrumentationHealth.nearestRank(stays[s.rawValue] ?? [], 0.9).map { ($0 * 10).rounded() / 10 })
        }
        a.stuck.sort { ($1.days, $0.enrollment) < ($0.days, $1.enrollment) }

        var feedback: [[String]: (count: Int, sum: Int)] = [:]
        for f in try store.feedback(program: program.slug) where f.at.milliseconds >= from && f.at.milliseconds < to {
            let key = [f.category, isoDate(days: interval.start(of: f.at))]
            feedback[key, default: (0, 0)].count += 1
            feedback[key, default: (0, 0)].sum += f.rating
        }
        a.feedback = feedback.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { key, v in
            Analytics.FeedbackPeriod(category: key[0], period: key[1], count: v.count, meanRating: (Double(v.sum) / Double(v.count) * 100).rounded() / 100)
        }
        return a
    }

    static func bucketOrder(_ b: String) -> Int { ["<100GiB", "100GiB-1TiB", "1TiB-10TiB", ">=10TiB"].firstIndex(of: b) ?? 9 }
}
