import PingRollCore
import PingRollStore

extension NotifyService {
    /// Evaluates every alert rule on its latest complete period at `now`: a group whose rule
    /// starts holding is notified once (`firing`), and once when it stops (`resolved`). The
    /// delivery's subject names the group and the period, so collectors evaluating at the same
    /// moment enqueue it once; the state per group is stored, so a restart changes nothing.
    /// Answers a line per change.
    @discardableResult
    public func evaluateAlerts(now: Timestamp = .now()) throws -> [String] {
        var changes: [String] = []
        for s in try store.subscriptions() where s.kind == .alert {
            guard let rule = s.rule else { continue }
            let period = Self.latestComplete(rule.interval, now: now)
            let states = Dictionary(try store.alertStates(subscriptionID: s.id).map { ($0.group, $0) }, uniquingKeysWith: { a, _ in a })
            for o in try observations(rule, period: period) {
                let old = states[o.group]
                // Never back in time (an evaluation `--at` an earlier moment changes nothing).
                if let old, old.periodStart > period { continue }
                let (holds, detail) = AlertEvaluator.holds(rule, o)
                let wasFiring = old?.firing ?? false
                if holds != wasFiring {
                    let state = holds ? "firing" : "resolved"
                    let document = AlertDocument(state: state, subscriptionID: s.id, rule: rule, period: period, observation: o, detail: detail)
                    let body = s.channel == .webhook ? try APIJSON.encode(document)
                        : MailMessage.alert(document, from: mail?.from ?? "pingroll@localhost", to: s.target, publicURL: publicURL)
                    _ = try store.enqueueDelivery(subscriptionID: s.id, subject: "alert \(state) \(o.group) \(rule.interval.rawValue):\(isoDate(days: period))",
                                                  body: body, resend: false, now: now)
                    changes.append("subscription \(s.id): \(rule.metric) \(rule.condition.rawValue) \(state) for \(o.group) in the \(rule.interval.rawValue) of \(isoDate(days: period)): \(detail)")
                }
                try store.recordAlertState(AlertState(subscriptionID: s.id, group: o.group, firing: holds,
                                                      since: holds == wasFiring ? (old?.since ?? now) : now, periodStart: period, detail: detail, updatedAt: now))
            }
        }
        return changes
    }

    /// A rule's numbers per group for `period` and the period before.
    func observations(_ rule: Subscription.Rule, period: Int64) throws -> [AlertObservation] {
        let previous = rule.interval.previous(before: period)
        if rule.condition == .errorRateAbove {
            let now = try InstrumentationHealth.errorRatesByVersion(store, metric: rule.metric, from: period, to: rule.interval.next(after: period) - 1)
            let before = try InstrumentationHealth.errorRatesByVersion(store, metric: rule.metric, from: previous, to: period - 1)
            return now.keys.sorted().map { version in
                AlertObservation(group: version, hits: now[version]!.errors, reporting: now[version]!.reports,
                                 previousHits: before[version]?.errors ?? 0, previousReporting: before[version]?.reports ?? 0)
            }
        }
        guard let metric = store.catalog?.metric(rule.metric) else { return [] }
        let q = SeriesQuery(metric: metric, interval: rule.interval, from: previous, to: period, groupBy: rule.groupBy,
                            filters: try SeriesQuery.filterArguments(rule.filters))
        return try query.series(q).compactMap { g -> AlertObservation? in
            guard g.points.count == 2 else { return nil }
            func figures(_ p: SeriesPoint) -> (hits: Int64, reporting: Int64) {
                switch metric.valueType {
                case .boolean: (p.count(Cell.true), p.count(Cell.true) &+ p.count(Cell.false))
                case .number: (p.count(Cell.reporting), p.count(Cell.reporting))
                case .string: (p.installations, p.installations)
                }
            }
            let (b, n) = (figures(g.points[0]), figures(g.points[1]))
            return AlertObservation(group: g.group, hits: n.hits, reporting: n.reporting, previousHits: b.hits, previousReporting: b.reporting, count: n.hits)
        }
    }
}

extension InstrumentationHealth {
    struct MetricVersion: Hashable { var metric: String; var version: String }

    /// Per metric (or only `metric`) and GitLab `major.minor`: how many of the latest metadata
    /// reports received on days `from...to` list it, and how many of those say it failed
    /// (`forEachLatestReport`, and each report's version).
    static func errorRates(_ store: any PingStore, metric: String?, from: Int64, to: Int64) throws(StorageError) -> [MetricVersion: (reports: Int64, errors: Int64)] {
        var result: [MetricVersion: (reports: Int64, errors: Int64)] = [:]
        try forEachLatestReport(store, from: Timestamp(milliseconds: from &* 86_400_000), to: Timestamp(milliseconds: (to &+ 1) &* 86_400_000)) { report, listed throws(StorageError) in
            let entries = metric.map { m in listed.filter { $0.name == m } } ?? listed
            guard !entries.isEmpty else { return }
            var version = "unknown"
            if let uuid = report.uuid, let v = try store.versionOf(uuid: uuid, at: report.receivedAt) { version = "\(v.major).\(v.minor)" }
            for entry in entries where result.count < maxNames {
                let key = MetricVersion(metric: entry.name, version: version)
                result[key, default: (0, 0)].reports += 1
                if entry.failed { result[key, default: (0, 0)].errors += 1 }
            }
        }
        return result
    }

    /// `errorRates` of one metric, by version.
    static func errorRatesByVersion(_ store: any PingStore, metric: String, from: Int64, to: Int64) throws(StorageError) -> [String: (reports: Int64, errors: Int64)] {
        Dictionary(try errorRates(store, metric: metric, from: from, to: to).map { ($0.key.version, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}
