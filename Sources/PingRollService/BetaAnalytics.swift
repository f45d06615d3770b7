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
    public static func summary(_ store: any BetaStoring & PingReading, program: BetaProgram) throws(StorageError) -> Summary {
        var s = Summary(program: program.slug, enrollments: 0, byStatus: [:], byPhase: [:], byInstallationType: [:], byDbEnabled: [:],
                        feedbackByCategory: [:], feedbackByWeek: [])
        try BetaOperations.forEachEnrollment(store, program.slug) { x throws(StorageError) in
            s.enrollments += 1
            s.byStatus[x.status.rawValue, default: 0] += 1
            s.byPhase[x.phase ?? "unknown", default: 0] += 1
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
