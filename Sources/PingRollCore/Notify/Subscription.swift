/// Who is told what, and how: a weekly digest or an alert rule, delivered by e-mail or webhook.
public struct Subscription: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable { case digest, alert }
    public enum Channel: String, Sendable, CaseIterable, Codable { case email, webhook }

    /// When a digest goes out: a weekday (1 Monday … 7 Sunday) and an hour, in UTC.
    public struct Schedule: Sendable, Equatable, Codable {
        public var weekday: Int
        public var hour: Int

        public init(weekday: Int = 1, hour: Int = 8) {
            self.weekday = weekday
            self.hour = hour
        }
    }

    public enum Condition: String, Sendable, CaseIterable, Codable {
        case shareBelow = "share_below"
        case shareDrop = "share_drop"
        case countBelow = "count_below"
        case countAbove = "count_above"
        case errorRateAbove = "error_rate_above"
    }

    /// What an alert watches.
    public struct Rule: Sendable, Equatable, Codable {
        public var metric: String
        public var filters: [String]
        public var groupBy: Dimension?
        public var interval: PeriodKind
        public var condition: Condition
        public var threshold: Double
        /// No firing on fewer reporting installations.
        public var minCount: Int64

        enum CodingKeys: String, CodingKey {
            case metric, filters = "filter", groupBy = "group_by", interval, condition, threshold, minCount = "min_count"
        }

        public init(metric: String, filters: [String] = [], groupBy: Dimension? = nil, interval: PeriodKind = .week, condition: Condition,
                    threshold: Double, minCount: Int64 = 30) {
            self.metric = metric
            self.filters = filters
            self.groupBy = groupBy
            self.interval = interval
            self.condition = condition
            self.threshold = threshold
            self.minCount = minCount
        }
    }

    public var id: Int64
    public var kind: Kind
    public var channel: Channel
    /// An e-mail address, or an http(s) URL.
    public var target: String
    /// Whether a webhook secret is kept (it is never shown).
    public var hasSecret: Bool
    public var schedule: Schedule?
    public var dashboards: [String]
    public var rule: Rule?
    /// The token that created it, and its role: what the deliveries may contain.
    public var createdBy: String
    public var createdRole: Role
    public var createdAt: Timestamp

    public init(id: Int64 = 0, kind: Kind, channel: Channel, target: String, hasSecret: Bool = false, schedule: Schedule? = nil,
                dashboards: [String] = [], rule: Rule? = nil, createdBy: String, createdRole: Role, createdAt: Timestamp) {
        self.id = id
        self.kind = kind
        self.channel = channel
        self.target = target
        self.hasSecret = hasSecret
        self.schedule = schedule
        self.dashboards = dashboards
        self.rule = rule
        self.createdBy = createdBy
        self.createdRole = createdRole
        self.createdAt = createdAt
    }

    public static let maxSubscriptions = 100
    public static let defaultDashboard = "registry-metadata-db"
}

/// A subscription as posted, checked field by field; a problem names its field (422).
public enum SubscriptionInput {
    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var field: String
        public var message: String
        public var description: String { "`\(field)`: \(message)" }

        public init(_ field: String, _ message: String) {
            self.field = field
            self.message = message
        }
    }

    static let members: Set<String> = ["kind", "channel", "target", "secret", "schedule", "dashboards", "rule"]
    static let ruleMembers: Set<String> = ["metric", "filter", "group_by", "interval", "condition", "threshold", "min_count"]

    /// The subscription (id, creator and time left for the store) and the webhook secret.
    /// `metric` says whether the catalog has a metric and of which type; `dashboards` the slugs
    /// that exist.
    public static func parse(_ o: JSONObject, catalog: MetricCatalog?, dashboards: Set<String>, by token: String, role: Role,
                             now: Timestamp) throws(Problem) -> (Subscription, secret: String?) {
        for key in o.keys where !members.contains(key) {
            throw Problem(key, "is not a subscription field (\(members.sorted().joined(separator: ", ")))")
        }
        guard let kindText = o["kind"]?.stringValue, let kind = Subscription.Kind(rawValue: kindText) else {
            throw Problem("kind", "is required: digest or alert")
        }
        guard let channelText = o["channel"]?.stringValue, let channel = Subscription.Channel(rawValue: channelText) else {
            throw Problem("channel", "is required: email or webhook")
        }
        guard let target = o["target"]?.stringValue else {
            throw Problem("target", channel == .email ? "is required: an e-mail address" : "is required: an http or https URL")
        }
        switch channel {
        case .email: guard EmailAddress.isValid(target) else { throw Problem("target", "is not an e-mail address (name@example.com, no spaces or control characters)") }
        case .webhook: guard WebhookURL.isValid(target) else { throw Problem("target", "is not an http or https URL without spaces or control characters (at most 2,000 bytes)") }
        }
        var secret: String?
        switch (channel, o["secret"]) {
        case (_, nil), (_, .null?): if channel == .webhook { throw Problem("secret", "is required for a webhook: 16 to 256 printable characters, to sign each delivery") }
        case (.webhook, .string(let s)?):
            guard (16...256).contains(s.unicodeScalars.count), s.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) else {
                throw Problem("secret", "must be 16 to 256 printable ASCII characters without spaces")
            }
            secret = s
        case (.email, _): throw Problem("secret", "is for webhooks only")
        case (.webhook, _): throw Problem("secret", "must be text")
        }
        var subscription = Subscription(kind: kind, channel: channel, target: target, hasSecret: secret != nil, createdBy: token, createdRole: role, createdAt: now)
        switch kind {
        case .digest:
            if o["rule"] != nil { throw Problem("rule", "is for alerts only") }
            subscription.schedule = try schedule(o["schedule"])
            subscription.dashboards = try dashboardList(o["dashboards"], known: dashboards)
        case .alert:
            if o["schedule"] != nil { throw Problem("schedule", "is for digests only (alerts are evaluated every --alert-interval)") }
            if o["dashboards"] != nil { throw Problem("dashboards", "is for digests only") }
            guard let ruleObject = o["rule"]?.objectValue else { throw Problem("rule", "is required for an alert: {\"metric\", \"condition\", \"threshold\", …}") }
            subscription.rule = try rule(ruleObject, catalog: catalog)
        }
        return (subscription, secret)
    }

    static func schedule(_ value: JSONTree?) throws(Problem) -> Subscription.Schedule {
        guard let value, !value.isNull else { return Subscription.Schedule() }
        guard let o = value.objectValue else { throw Problem("schedule", "must be {\"weekday\": 1-7, \"hour\": 0-23}") }
        for key in o.keys where key != "weekday" && key != "hour" { throw Problem("schedule.\(key)", "is not a schedule field (weekday, hour)") }
        var s = Subscription.Schedule()
        if let w = o["weekday"] {
            guard let n = w.numberValue?.wholeNumber, (1...7).contains(n) else { throw Problem("schedule.weekday", "must be 1 (Monday) to 7 (Sunday)") }
            s.weekday = Int(n)
        }
        if let h = o["hour"] {
            guard let n = h.numberValue?.wholeNumber, (0...23).contains(n) else { throw Problem("schedule.hour", "must be 0 to 23 (UTC)") }
            s.hour = Int(n)
        }
        return s
    }

    static func dashboardList(_ value: JSONTree?, known: Set<String>) throws(Problem) -> [String] {
        guard let value, !value.isNull else { return [Subscription.defaultDashboard] }
        guard let list = value.arrayValue, !list.isEmpty, list.count <= 20 else { throw Problem("dashboards", "must be a list of 1 to 20 dashboard slugs") }
        var slugs: [String] = []
        for item in list {
            guard let slug = item.stringValue, known.contains(slug) else {
                throw Problem("dashboards", "`\(item.stringValue.map(shown) ?? "a non-text item")` is not a dashboard (\(known.sorted().joined(separator: ", ")))")
            }
            if !slugs.contains(slug) { slugs.append(slug) }
        }
        return slugs
    }

    static func rule(_ o: JSONObject, catalog: MetricCatalog?) throws(Problem) -> Subscription.Rule {
        for key in o.keys where !ruleMembers.contains(key) {
            throw Problem("rule.\(key)", "is not a rule field (\(ruleMembers.sorted().joined(separator: ", ")))")
        }
        guard let conditionText = o["condition"]?.stringValue, let condition = Subscription.Condition(rawValue: conditionText) else {
            throw Problem("rule.condition", "is required: \(Subscription.Condition.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let metric = o["metric"]?.stringValue, !metric.isEmpty, metric.utf8.count <= 500, !hasControl(metric) else {
            throw Problem("rule.metric", "is required: a metric's key path")
        }
        if condition != .errorRateAbove {
            // Instrumentation error rates are per metric of the metadata reports; every other
            // condition reads the rollups of a catalog metric.
            guard let definition = catalog?.metric(metric) else { throw Problem("rule.metric", "`\(shown(metric))` is not in the catalog") }
            if condition == .shareBelow || condition == .shareDrop, definition.valueType != .boolean {
                throw Problem("rule.metric", "`\(metric)` is a \(definition.valueType.rawValue) metric; a share needs a boolean one")
            }
        }
        guard let threshold = o["threshold"]?.numberValue.flatMap({ Double($0.text) }), threshold.isFinite else {
            throw Problem("rule.threshold", "is required: a number")
        }
        switch condition {
        case .shareBelow, .errorRateAbove:
            guard (0...1).contains(threshold) else { throw Problem("rule.threshold", "is a share from 0 to 1") }
        case .shareDrop:
            guard threshold > 0 && threshold <= 100 else { throw Problem("rule.threshold", "is a drop in percentage points, above 0 and at most 100") }
        case .countBelow, .countAbove:
            guard threshold >= 0 && threshold <= 1e12 else { throw Problem("rule.threshold", "is a count from 0") }
        }
        var rule = Subscription.Rule(metric: metric, condition: condition, threshold: threshold)
        if let f = o["filter"], !f.isNull {
            let texts: [String]
            if let s = f.stringValue { texts = [s] } else if let list = f.arrayValue, list.allSatisfy({ $0.stringValue != nil }) { texts = list.compactMap(\.stringValue) } else {
                throw Problem("rule.filter", "must be DIMENSION:VALUE[,…] or a list of them")
            }
            do throws(QueryError) { _ = try SeriesQuery.filterArguments(texts) } catch { throw Problem("rule.filter", error.message) }
            rule.filters = texts
        }
        if let g = o["group_by"], !g.isNull {
            guard let text = g.stringValue, let dimension = Dimension(rawValue: text) else {
                throw Problem("rule.group_by", "must be one of \(RollupTuple.dimensions.joined(separator: ", "))")
            }
            rule.groupBy = dimension
        }
        if let i = o["interval"], !i.isNull {
            guard let text = i.stringValue, let interval = PeriodKind(rawValue: text), interval != .month else { throw Problem("rule.interval", "must be day or week") }
            rule.interval = interval
        }
        if let m = o["min_count"], !m.isNull {
            guard let n = m.numberValue?.wholeNumber, n >= 0, n <= 1_000_000_000 else { throw Problem("rule.min_count", "must be a whole number from 0") }
            rule.minCount = n
        }
        return rule
    }

    static func hasControl(_ text: String) -> Bool { text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }

    static func shown(_ text: String) -> String {
        let clean = String(String.UnicodeScalarView(text.unicodeScalars.prefix(60).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return text.unicodeScalars.count > 60 ? clean + "…" : clean
    }
}

/// An e-mail address as a delivery target: `local@domain`, what SMTP and a header can carry
/// without quoting (no spaces, control characters, quotes, angle brackets, commas).
public enum EmailAddress {
    public static func isValid(_ text: String) -> Bool {
        guard text.utf8.count <= 254, let at = text.lastIndex(of: "@") else { return false }
        let local = text[..<at], domain = text[text.index(after: at)...]
        guard !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty, domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix(".") else { return false }
        let localAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+-/=?^_`{|}~".utf8)
        let domainAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-".utf8)
        return local.utf8.allSatisfy(localAllowed.contains) && domain.utf8.allSatisfy(domainAllowed.contains) && !domain.contains("..")
    }
}

/// A webhook target: http or https, a host, printable ASCII without spaces.
public enum WebhookURL {
    public static func isValid(_ text: String) -> Bool {
        guard text.utf8.count <= 2_000, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return false }
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") { rest = text.dropFirst(8) } else if lower.hasPrefix("http://") { rest = text.dropFirst(7) } else { return false }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // No credentials in the URL (they would be logged with it), and a host.
        guard !authority.contains("@") else { return false }
        let host = authority.hasPrefix("[") ? authority.prefix { $0 != "]" } : authority.prefix { $0 != ":" }
        return !host.isEmpty && host != "["
    }
}
