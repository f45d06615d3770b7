import Testing
@testable import PingRollCore

@Suite struct SubscriptionTests {
    static let catalog = try! MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8))
    static let dashboards: Set<String> = ["registry-metadata-db", "service-ping-overview"]

    static func parse(_ json: String) throws(SubscriptionInput.Problem) -> (Subscription, secret: String?) {
        let object = try! JSONTree.parse(Array(json.utf8)).objectValue!
        return try SubscriptionInput.parse(object, catalog: catalog, dashboards: dashboards, by: "pm1", role: .pm, now: Timestamp(milliseconds: 0))
    }

    @Test func aDigestByEmailGetsTheDefaultScheduleAndDashboard() throws {
        let (s, secret) = try Self.parse(#"{"kind":"digest","channel":"email","target":"pm@example.com"}"#)
        #expect(s.schedule == Subscription.Schedule(weekday: 1, hour: 8) && s.dashboards == ["registry-metadata-db"] && secret == nil && !s.hasSecret)
        let (w, key) = try Self.parse(#"{"kind":"digest","channel":"webhook","target":"https://hooks.example.com/p?x=1","secret":"0123456789abcdef","schedule":{"weekday":5,"hour":17},"dashboards":["service-ping-overview"]}"#)
        #expect(w.schedule == Subscription.Schedule(weekday: 5, hour: 17) && w.dashboards == ["service-ping-overview"] && key == "0123456789abcdef" && w.hasSecret)
    }

    @Test func anAlertRuleIsCheckedAgainstTheCatalog() throws {
        let (a, _) = try Self.parse(#"{"kind":"alert","channel":"webhook","target":"http://127.0.0.1:9/h","secret":"0123456789abcdef","rule":{"metric":"container_registry_server.db_enabled","condition":"share_drop","threshold":5,"group_by":"edition","filter":"tier:premium","interval":"week","min_count":50}}"#)
        #expect(a.rule == Subscription.Rule(metric: "container_registry_server.db_enabled", filters: ["tier:premium"], groupBy: .edition, interval: .week,
                                            condition: .shareDrop, threshold: 5, minCount: 50))
    }

    @Test func hostileOrWrongInputNamesItsField() {
        let bad: [(String, String)] = [
            (#"{"kind":"weekly","channel":"email","target":"a@b.example"}"#, "kind"),
            (#"{"kind":"digest","channel":"pigeon","target":"a@b.example"}"#, "channel"),
            (#"{"kind":"digest","channel":"email","target":"a@b.example\r\nBcc: all@evil.example"}"#, "target"),
            (#"{"kind":"digest","channel":"email","target":"not an address"}"#, "target"),
            (#"{"kind":"digest","channel":"webhook","target":"ftp://x.example/","secret":"0123456789abcdef"}"#, "target"),
            (#"{"kind":"digest","channel":"webhook","target":"https://x.example/\r\nX: y","secret":"0123456789abcdef"}"#, "target"),
            (#"{"kind":"digest","channel":"webhook","target":"https://user:pw@x.example/","secret":"0123456789abcdef"}"#, "target"),
            (#"{"kind":"digest","channel":"webhook","target":"https://x.example/"}"#, "secret"),
            (#"{"kind":"digest","channel":"webhook","target":"https://x.example/","secret":"short"}"#, "secret"),
            (#"{"kind":"digest","channel":"email","target":"a@b.example","secret":"0123456789abcdef"}"#, "secret"),
            (#"{"kind":"digest","channel":"email","target":"a@b.example","schedule":{"weekday":8}}"#, "schedule.weekday"),
            (#"{"kind":"digest","channel":"email","target":"a@b.example","schedule":{"hour":24}}"#, "schedule.hour"),
            (#"{"kind":"digest","channel":"email","target":"a@b.example","dashboards":["nope"]}"#, "dashboards"),
            (#"{"kind":"digest","channel":"email","target":"a@b.example","colour":"red"}"#, "colour"),
            (#"{"kind":"alert","channel":"email","target":"a@b.example"}"#, "rule"),
            (#"{"kind":"alert","channel":"email","target":"a@b.example","rule":{"metric":"no.such.metric","condition":"count_below","threshold":3}}"#, "rule.metric"),
            (#"{"kind":"alert","channel":"email","target":"a@b.example","rule":{"metric":"active_user_count","condition":"share_below","threshold":0.5}}"#, "rule.metric"),
            (#"{"kind":"alert","channel":"email","target":"a@b.example","rule":{"metric":"container_registry_server.db_enabled","condition":"share_below","threshold":5}}"#, "rule.threshold"),
            (#"{"kind":"alert","channel":"email","target":"a@b.example","rule":{"metric":"container_registry_server.db_enabled","condition":"share_below","threshold":0.5,"interval":"month"}}"#, "rule.interval"),
            (#"{"kind":"alert","channel":"email","target":"a@b.example","rule":{"metric":"container_registry_server.db_enabled","condition":"explode","threshold":1}}"#, "rule.condition"),
        ]
        for (json, field) in bad {
            #expect(throws: SubscriptionInput.Problem.self, "\(json)") { try Self.parse(json) }
            do { _ = try Self.parse(json) } catch { #expect(error.field == field, "\(json): \(error)") }
        }
    }

    @Test func addressesAndURLs() {
        #expect(EmailAddress.isValid("first.last+tag@sub.example.com"))
        for bad in ["", "@x.example", "a@", "a@b", "a b@c.example", "a@b..example", "<a@b.example>", "a@b.example\n", "a,b@c.example"] {
            #expect(!EmailAddress.isValid(bad), "\(bad)")
        }
        #expect(WebhookURL.isValid("https://[::1]:8443/hook") && WebhookURL.isValid("http://127.0.0.1:8080"))
        for bad in ["https://", "https:///x", "javascript:alert(1)", "https://a b/", "https://x.example/\u{7F}"] { #expect(!WebhookURL.isValid(bad), "\(bad)") }
    }

    @Test func retriesWaitOneFiveAndThirtyMinutesThenStop() {
        #expect((1...4).map(Delivery.retryDelayMs(afterAttempt:)) == [60_000, 300_000, 1_800_000, nil])
    }
}

/// Alert rules against simulated fleets whose truth is known.
@Suite struct AlertRuleTests {
    /// `weeks` weeks of `n` reporters each, every one true with `share(week)`: binomial noise.
    static func fleet(seed: UInt64, weeks: Int = 52, n: Int64 = 400, share: (Int) -> Double) -> [(hits: Int64, n: Int64)] {
        var rng = SplitMix(state: seed)
        return (0..<weeks).map { w in
            let p = share(w)
            let hits = (0..<n).reduce(Int64(0)) { sum, _ in sum + (Double.random(in: 0..<1, using: &rng) < p ? 1 : 0) }
            return (hits, n)
        }
    }

    /// Weeks in which the rule started holding, and weeks in which it stopped.
    static func transitions(_ rule: Subscription.Rule, _ weeks: [(hits: Int64, n: Int64)]) -> (fired: [Int], resolved: [Int]) {
        var firing = false, fired: [Int] = [], resolved: [Int] = []
        for w in 1..<weeks.count {
            let o = AlertObservation(group: "all", hits: weeks[w].hits, reporting: weeks[w].n, previousHits: weeks[w - 1].hits, previousReporting: weeks[w - 1].n)
            let holds = AlertEvaluator.holds(rule, o).holds
            if holds && !firing { fired.append(w) }
            if !holds && firing { resolved.append(w) }
            firing = holds
        }
        return (fired, resolved)
    }

    /// On a stable fleet the week-to-week difference of two shares from 400 reporters has a
    /// standard deviation of 3.5 points: a drop significant at 95 % (6.8 points here) happens by
    /// chance in 2.5 % of weeks, 1.3 times in a year on average. Measured on 50 simulated years.
    @Test func aShareDropRuleFiresAboutOnceAYearByChanceAndCatchesARealDrop() {
        let rule = Subscription.Rule(metric: "m", condition: .shareDrop, threshold: 5)
        var falseAlerts: [Int] = []
        for seed: UInt64 in 1...50 {
            falseAlerts.append(Self.transitions(rule, Self.fleet(seed: seed) { _ in 0.6 }).fired.count)
            // A drop of 15 points in week 30, back in week 31: firing in week 30 (started then, or
            // the week before by chance), resolved by week 32.
            let weeks = Self.fleet(seed: seed) { $0 == 30 ? 0.45 : 0.6 }
            let dropped = Self.transitions(rule, weeks)
            let firingAt30 = (dropped.fired.last { $0 <= 30 } ?? -1) > (dropped.resolved.last { $0 <= 30 } ?? -1)
            #expect(firingAt30 && dropped.resolved.contains { $0 == 31 || $0 == 32 }, "seed \(seed): \(dropped)")
        }
        let mean = Double(falseAlerts.reduce(0, +)) / Double(falseAlerts.count)
        let atMostTwo = falseAlerts.count { $0 <= 2 }
        print("share_drop 5 points, 50 stable years of 400 reporters a week: \(falseAlerts.reduce(0, +)) false alerts, \(mean) a year, at most \(falseAlerts.max() ?? 0) in one year, \(atMostTwo) of 50 years with at most two")
        #expect(mean <= 2 && mean >= 0.5, "the rate follows from the 95 % test: \(mean)")
        #expect(atMostTwo >= 40, "\(falseAlerts)")
    }

    @Test func rulesHoldOnlyWithEnoughReporters() {
        let below = Subscription.Rule(metric: "m", condition: .shareBelow, threshold: 0.5, minCount: 30)
        #expect(AlertEvaluator.holds(below, AlertObservation(group: "g", hits: 10, reporting: 40)).holds)
        #expect(!AlertEvaluator.holds(below, AlertObservation(group: "g", hits: 1, reporting: 20)).holds, "too few")
        #expect(!AlertEvaluator.holds(below, AlertObservation(group: "g", hits: 30, reporting: 40)).holds)
        let count = Subscription.Rule(metric: "m", condition: .countAbove, threshold: 100, minCount: 0)
        #expect(AlertEvaluator.holds(count, AlertObservation(group: "g", hits: 101, reporting: 200)).holds)
        let errors = Subscription.Rule(metric: "m", condition: .errorRateAbove, threshold: 0.1, minCount: 10)
        let e = AlertEvaluator.holds(errors, AlertObservation(group: "17.3", hits: 3, reporting: 20))
        #expect(e.holds && e.detail == "error rate 15.0 % of 20 reports (threshold 10.0 %)", "\(e.detail)")
        let drop = AlertEvaluator.holds(Subscription.Rule(metric: "m", condition: .shareDrop, threshold: 5),
                                        AlertObservation(group: "g", hits: 180, reporting: 400, previousHits: 240, previousReporting: 400))
        #expect(drop.holds && drop.detail.contains("down 15.0 points (significant at 95 %)"), "\(drop.detail)")
    }
}
