import PingRollCore

/// A subscription as the API shows it: never its secret, only whether it has one.
public struct SubscriptionBody: Encodable, Sendable {
    public var id: Int64
    public var kind: Subscription.Kind
    public var channel: Subscription.Channel
    public var target: String
    public var hasSecret: Bool
    @Nullable public var schedule: Subscription.Schedule?
    public var dashboards: [String]
    @Nullable public var rule: Subscription.Rule?
    public var createdBy: String
    public var createdRole: String
    public var createdAt: String
    /// An alert's state per group (as of its last evaluation); absent in lists and for digests.
    public var alertState: [AlertStateBody]?

    public struct AlertStateBody: Encodable, Sendable {
        public var group: String
        public var state: String
        public var since: String
        public var period: String
        public var detail: String
    }

    public init(_ s: Subscription, alertStates: [AlertState]? = nil) {
        alertState = alertStates?.map { AlertStateBody(group: $0.group, state: $0.firing ? "firing" : "ok", since: $0.since.description,
                                                       period: isoDate(days: $0.periodStart), detail: $0.detail) }
        id = s.id
        kind = s.kind
        channel = s.channel
        target = s.target
        hasSecret = s.hasSecret
        schedule = s.schedule
        dashboards = s.dashboards
        rule = s.rule
        createdBy = s.createdBy
        createdRole = s.createdRole.rawValue
        createdAt = s.createdAt.description
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, channel, target, hasSecret = "has_secret", schedule, dashboards, rule, createdBy = "created_by", createdRole = "created_role", createdAt = "created_at",
             alertState = "alert_state"
    }
}

public struct SubscriptionListBody: Encodable, Sendable {
    public var subscriptions: [SubscriptionBody]
    public init(_ list: [Subscription]) { subscriptions = list.map { SubscriptionBody($0) } }
}

/// A delivery without its body: what was sent when, and how it went.
public struct DeliveryBody: Encodable, Sendable {
    public var id: Int64
    public var deliveryID: String
    public var subject: String
    public var generation: Int
    public var state: Delivery.State
    public var attempts: Int
    public var nextAttemptAt: String
    @Nullable public var lastError: String?
    public var createdAt: String
    public var updatedAt: String

    public init(_ d: Delivery) {
        id = d.id
        deliveryID = d.deliveryID
        subject = d.subject
        generation = d.generation
        state = d.state
        attempts = d.attempts
        nextAttemptAt = d.nextAttemptAt.description
        lastError = d.lastError
        createdAt = d.createdAt.description
        updatedAt = d.updatedAt.description
    }

    enum CodingKeys: String, CodingKey {
        case id, deliveryID = "delivery_id", subject, generation, state, attempts, nextAttemptAt = "next_attempt_at", lastError = "last_error",
             createdAt = "created_at", updatedAt = "updated_at"
    }
}

public struct DeliveryListBody: Encodable, Sendable {
    public var deliveries: [DeliveryBody]
    public init(_ list: [Delivery]) { deliveries = list.map(DeliveryBody.init) }
}

/// `GET /api/v1/digest`: a week against the week before.
public struct DigestBody: Encodable, Sendable {
    public struct Installation: Encodable, Sendable {
        public var uuid: String
        public var hostname: String
        @Nullable public var version: String?
    }

    /// A dashboard's share panel this week and the week before.
    public struct Headline: Encodable, Sendable {
        public var dashboard: String
        public var panel: String
        public var title: String
        public var metric: String
        public var filters: [String]
        public var reporting: Int64
        @Nullable public var share: Double?
        @Nullable public var ciLow: Double?
        @Nullable public var ciHigh: Double?
        public var previousReporting: Int64
        @Nullable public var previousShare: Double?
        /// (share − previous share) × 100; null without both.
        @Nullable public var changePoints: Double?
        /// Two-proportion z-test at 95 %.
        public var significant: Bool
        /// Installations whose latest value went from false (before) to true (this week), and back.
        public var adopters: Int64
        public var regressions: Int64
        /// pm and admin readers only: up to 20 of each.
        @Nullable public var adopterInstallations: [Installation]?
        @Nullable public var regressionInstallations: [Installation]?

        enum CodingKeys: String, CodingKey {
            case dashboard, panel, title, metric, filters, reporting, share, ciLow = "ci_low", ciHigh = "ci_high", previousReporting = "previous_reporting",
                 previousShare = "previous_share", changePoints = "change_points", significant, adopters, regressions,
                 adopterInstallations = "adopter_installations", regressionInstallations = "regression_installations"
        }
    }

    public struct Completeness: Encodable, Sendable {
        public var reported: Int64
        public var expected: Int64
        @Nullable public var share: Double?
    }

    public struct Ingest: Encodable, Sendable {
        public var accepted: Int64
        public var duplicates: Int64
        public var rejected: Int64
        public var previousAccepted: Int64
        public var previousDuplicates: Int64
        public var previousRejected: Int64
        /// Gaps of more than 6 hours without an accepted ping that started in the week.
        public var gaps: [String]

        enum CodingKeys: String, CodingKey {
            case accepted, duplicates, rejected, previousAccepted = "previous_accepted", previousDuplicates = "previous_duplicates",
                 previousRejected = "previous_rejected", gaps
        }
    }

    /// A beta program's week: who is stuck, who migrated and went silent, which runs failed.
    public struct Beta: Encodable, Sendable {
        public struct Enrollment: Encodable, Sendable {
            public var id: Int64
            /// pm and admin readers only.
            @Nullable public var organization: String?
            public var status: String
            /// Days in the status (stuck), or since the last ping (silent).
            public var days: Double
        }

        public var program: String
        /// In one status (not migrated or withdrawn) for more than 14 days.
        public var stuck: [Enrollment]
        /// Migrated, and no ping from the installation for 14 days.
        public var migratedButSilent: [Enrollment]
        public var failedRuns: Int
        public var runs: Int

        enum CodingKeys: String, CodingKey { case program, stuck, migratedButSilent = "migrated_but_silent", failedRuns = "failed_runs", runs }
    }

    /// A metric of the metadata reports whose error rate on a GitLab version rose by 10 points or more.
    public struct ErrorRise: Encodable, Sendable {
        public var metric: String
        public var version: String
        public var errorRate: Double
        public var previousErrorRate: Double
        public var reports: Int64

        enum CodingKeys: String, CodingKey { case metric, version, errorRate = "error_rate", previousErrorRate = "previous_error_rate", reports }
    }

    public var period: String
    public var previousPeriod: String
    public var complete: Bool
    public var headlines: [Headline]
    public var completeness: Completeness
    public var ingest: Ingest
    public var beta: [Beta]
    public var instrumentation: [ErrorRise]
    @Nullable public var dashboardURL: String?

    enum CodingKeys: String, CodingKey {
        case period, previousPeriod = "previous_period", complete, headlines, completeness, ingest, beta, instrumentation, dashboardURL = "dashboard_url"
    }
}

/// What a webhook receives for a digest.
public struct DigestDocument: Encodable, Sendable {
    public var type = "digest"
    public var subscriptionID: Int64
    public var digest: DigestBody

    enum CodingKeys: String, CodingKey { case type, subscriptionID = "subscription_id", digest }
}

public struct SubscriptionDeletedBody: Encodable, Sendable {
    var id: Int64
    var deleted = true
    public init(id: Int64) { self.id = id }
}

/// What a webhook receives when an alert starts or stops holding for a group.
public struct AlertDocument: Encodable, Sendable {
    public var type = "alert"
    public var state: String
    public var subscriptionID: Int64
    public var rule: Subscription.Rule
    public var group: String
    public var period: String
    public var detail: String
    @Nullable public var share: Double?
    @Nullable public var previousShare: Double?
    public var reporting: Int64
    public var previousReporting: Int64
    public var count: Int64

    public init(state: String, subscriptionID: Int64, rule: Subscription.Rule, period: Int64, observation o: AlertObservation, detail: String) {
        self.state = state
        self.subscriptionID = subscriptionID
        self.rule = rule
        group = o.group
        self.period = isoDate(days: period)
        self.detail = detail
        share = APIJSON.number(o.share)
        previousShare = APIJSON.number(o.previousShare)
        reporting = o.reporting
        previousReporting = o.previousReporting
        count = o.count
    }

    enum CodingKeys: String, CodingKey {
        case type, state, subscriptionID = "subscription_id", rule, group, period, detail, share, previousShare = "previous_share", reporting,
             previousReporting = "previous_reporting", count
    }
}
