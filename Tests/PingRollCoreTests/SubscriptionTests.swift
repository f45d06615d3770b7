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
