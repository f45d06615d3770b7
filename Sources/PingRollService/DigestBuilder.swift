import PingRollCore
import PingRollStore

/// Builds the weekly digest from the rollups, the fleet's latest pings and ingest counts.
struct DigestBuilder {
    let store: any PingStore
    let query: QueryService
    static let listed = 20
    static let lookback = 8

    func build(week: Int64, role: Role, dashboards: [Dashboard], publicURL: String?, now: Timestamp) throws -> DigestBody {
        let previous = PeriodKind.week.previous(before: week)
        let presentation = SeriesPresentation(now: now)
        var headlines: [DigestBody.Headline] = []
        var completeness = DigestBody.Completeness(reported: 0, expected: 0, share: nil)
        if let catalog = store.catalog {
            for dashboard in dashboards {
                for panel in dashboard.panels where panel.query.source == .series && panel.query.value == "ratio" && panel.query.groupBy == nil {
                    guard let key = panel.query.metric, let metric = catalog.metric(key), metric.valueType == .boolean else { continue }
                    let filters = try SeriesQuery.filterArguments(panel.query.filters ?? [])
                    let q = SeriesQuery(metric: metric, interval: .week, from: previous, to: week, filters: filters)
                    let points = try query.series(q).first?.points ?? []
                    guard points.count == 2 else { continue }
                    var h = headline(dashboard: dashboard.slug, panel: panel, metric: key, filters: panel.query.filters ?? [], before: points[0], now: points[1])
                    try changes(&h, metric: metric, filters: q.effectiveFilters, week: week, role: role)
                    if headlines.isEmpty { completeness = DigestBody.Completeness(reported: points[1].installations, expected: points[0].installations,
                                                                                  share: points[0].installations > 0 ? Double(points[1].installations) / Double(points[0].installations) : nil) }
                    headlines.append(h)
                }
            }
        }
        let ingest = try self.ingest(week: week, previous: previous)
        let url = publicURL.map { base in
            (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/?dashboard=\(dashboards.first?.slug ?? Subscription.defaultDashboard)&interval=week&from=\(isoDate(days: previous))&to=\(isoDate(days: week))"
        }
        return DigestBody(period: isoDate(days: week), previousPeriod: isoDate(days: previous), complete: presentation.isComplete(.week, start: week),
                          headlines: headlines, completeness: completeness, ingest: ingest, beta: try beta(week: week, role: role, now: now),
                          instrumentation: try errorRises(week: week, previous: previous), dashboardURL: url)
    }

    func headline(dashboard: String, panel: Dashboard.Panel, metric: String, filters: [String], before: SeriesPoint, now: SeriesPoint) -> DigestBody.Headline {
        let n1 = now.count(Cell.true) &+ now.count(Cell.false), n0 = before.count(Cell.true) &+ before.count(Cell.false)
        let interval = now.ratioInterval
        let change = now.ratio.flatMap { a in before.ratio.map { b in (a - b) * 100 } }
        return DigestBody.Headline(dashboard: dashboard, panel: panel.id, title: panel.title, metric: metric, filters: filters, reporting: n1,
                                   share: APIJSON.number(now.ratio), ciLow: APIJSON.number(interval?.low), ciHigh: APIJSON.number(interval?.high),
                                   previousReporting: n0, previousShare: APIJSON.number(before.ratio), changePoints: APIJSON.number(change),
                                   significant: TwoProportion.significant(now.count(Cell.true), n1, before.count(Cell.true), n0),
                                   adopters: 0, regressions: 0, adopterInstallations: nil, regressionInstallations: nil)
    }

    /// Adopters and regressions: installations whose latest value before the week (within 8
    /// weeks) was false and is true in it, or the other way round.
    func changes(_ h: inout DigestBody.Headline, metric: MetricDefinition, filters: [Dimension: Set<String>], week: Int64, role: Role) throws {
        var timeline = FleetTimeline(lookback: Self.lookback)
        var period: FleetTimeline.Period?
        for s in PeriodKind.week.starts(before: week, count: Self.lookback) + [week] {
            period = timeline.advance(start: s, reports: try store.fleetReports(metric: metric, interval: .week, periodStart: s, groupBy: nil, filters: filters))
        }
        guard let period else { return }
        var adopters: [Int64] = [], regressions: [Int64] = []
        for r in period.reports where r.counted {
            guard let before = period.previous[r.installation], before.report.counted else { continue }
            if before.report.state == .false && r.state == .true { adopters.append(r.installation) }
            if before.report.state == .true && r.state == .false { regressions.append(r.installation) }
        }
        h.adopters = Int64(adopters.count)
        h.regressions = Int64(regressions.count)
        guard role == .pm || role == .admin else { return }
        func named(_ ids: [Int64]) throws -> [DigestBody.Installation] {
            try store.installations(ids: Array(ids.prefix(Self.listed))).map { DigestBody.Installation(uuid: $0.key.uuid, hostname: $0.key.hostname, version: $0.version) }
        }
        h.adopterInstallations = try named(adopters)
        h.regressionInstallations = try named(regressions)
    }

    func ingest(week: Int64, previous: Int64) throws -> DigestBody.Ingest {
        func totals(_ from: Int64) throws -> (Int64, Int64, Int64) {
            let health = try store.ingestHealth(fromDay: from, toDay: from + 6)
            return health.days.reduce((0, 0, 0)) { ($0.0 &+ $1.accepted, $0.1 &+ $1.duplicates, $0.2 &+ $1.rejected.values.reduce(0, &+)) }
        }
        let (a, d, r) = try totals(week), (pa, pd, pr) = try totals(previous)
        let gaps = try store.annotations(from: Timestamp(milliseconds: week &* 86_400_000), to: Timestamp(milliseconds: (week + 7) &* 86_400_000), metric: nil)
            .filter { $0.kind == .ingestGap }.map { "\($0.at): \($0.text)" }
        return DigestBody.Ingest(accepted: a, duplicates: d, rejected: r, previousAccepted: pa, previousDuplicates: pd, previousRejected: pr, gaps: gaps)
    }
}

extension DigestBuilder {
    static let stuckDays = 14
    static let silentDays = 14

    /// Every program: enrollments stuck over 14 days, migrated ones whose installation has not
    /// pinged for 14 days (as of `now`), and the week's runs. Organizations for pm and admin only.
    func beta(week: Int64, role: Role, now: Timestamp) throws -> [DigestBody.Beta] {
        let named = role == .pm || role == .admin
        return try store.programs().map { program in
            let a = try BetaAnalytics.analytics(store, program: program, fromDay: week, toDay: week + 6, interval: .week,
                                                stuckAfterDays: Self.stuckDays, now: now)
            var organizations: [Int64: String] = [:]
            var silent: [DigestBody.Beta.Enrollment] = []
            var after: Int64 = 0
            while true {
                let page = try store.enrollments(program: program.slug, after: after, limit: 500)
                for x in page {
                    after = x.id
                    organizations[x.id] = x.organization
                    guard x.status == .migrated, let uuid = x.uuid else { continue }
                    let last = try store.installations(uuid: uuid).compactMap { ($0.lastRecordedAt ?? $0.lastSeenAt).milliseconds }.max()
                    let days = last.map { Double(now.milliseconds &- $0) / 86_400_000 } ?? .infinity
                    if days > Double(Self.silentDays) {
                        silent.append(.init(id: x.id, organization: named ? x.organization : nil, status: x.status.rawValue,
                                            days: days.isFinite ? (days * 10).rounded() / 10 : -1))
                    }
                }
                if page.count < 500 { break }
            }
            let stuck = a.stuck.map { DigestBody.Beta.Enrollment(id: $0.enrollment, organization: named ? organizations[$0.enrollment] : nil, status: $0.status, days: $0.days) }
            return DigestBody.Beta(program: program.slug, stuck: stuck, migratedButSilent: silent,
                                   failedRuns: a.throughput.reduce(0) { $0 + $1.failed }, runs: a.throughput.reduce(0) { $0 + $1.runs })
        }
    }

    /// Metrics whose error rate on some GitLab `major.minor` rose by 10 points or more against the
    /// week before (at least 5 reports in each week).
    func errorRises(week: Int64, previous: Int64) throws -> [DigestBody.ErrorRise] {
        let now = try InstrumentationHealth.errorRates(store, metric: nil, from: week, to: week + 6)
        let before = try InstrumentationHealth.errorRates(store, metric: nil, from: previous, to: week - 1)
        var rises: [DigestBody.ErrorRise] = []
        for (key, figures) in now where figures.reports >= 5 {
            guard let old = before[key], old.reports >= 5 else { continue }
            let rate = Double(figures.errors) / Double(figures.reports), oldRate = Double(old.errors) / Double(old.reports)
            if (rate - oldRate) * 100 >= 10 {
                rises.append(.init(metric: key.metric, version: key.version, errorRate: APIJSON.number(rate) ?? rate,
                                   previousErrorRate: APIJSON.number(oldRate) ?? oldRate, reports: figures.reports))
            }
        }
        return rises.sorted { ($1.errorRate - $1.previousErrorRate, $0.metric, $0.version) < ($0.errorRate - $0.previousErrorRate, $1.metric, $1.version) }
    }
}
