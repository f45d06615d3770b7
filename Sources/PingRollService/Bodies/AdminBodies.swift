import PingRollCore
import PingRollStore

/// `GET /api/v1/catalog`: the metrics, the dimensions a series can be grouped and filtered by,
/// and the intervals.
public struct CatalogBody: Encodable, Sendable {
    public var dimensions: [String]
    public var intervals: [String]
    public var metrics: [MetricDefinition]

    public init(_ catalog: MetricCatalog) {
        dimensions = Dimension.allCases.map(\.rawValue)
        intervals = PeriodKind.allCases.map(\.rawValue)
        metrics = catalog.metrics
    }
}

/// `GET /api/v1/quarantine`: the newest rejected bodies with why they were rejected.
public struct QuarantineListBody: Encodable, Sendable {
    public struct Entry: Encodable, Sendable {
        public var id: Int64
        public var receivedAt: String
        public var route: String
        public var status: Int
        public var reason: String
        public var message: String
        @Nullable public var remoteAddress: String?
        @Nullable public var contentType: String?
        public var bodySize: Int
        public var bodyTruncated: Bool
        /// The kept bytes as text (invalid UTF-8 replaced).
        public var body: String

        enum CodingKeys: String, CodingKey {
            case id, receivedAt = "received_at", route, status, reason, message, remoteAddress = "remote_address"
            case contentType = "content_type", bodySize = "body_size", bodyTruncated = "body_truncated", body
        }
    }

    public var quarantine: [Entry]

    public init(_ entries: [StoredQuarantineEntry]) {
        quarantine = entries.map { e in
            let r = e.record
            return Entry(id: e.id, receivedAt: r.receivedAt.description, route: r.route, status: r.status, reason: r.reason,
                         message: r.message, remoteAddress: r.remoteAddress, contentType: r.contentType, bodySize: r.bodySize,
                         bodyTruncated: r.bodyTruncated, body: String(decoding: r.body, as: UTF8.self))
        }
    }
}

/// `POST /api/v1/quarantine/{id}/retry`: the entry and the ping it became.
public struct RetryBody: Encodable, Sendable {
    public var quarantineID: Int64
    public var usageDataID: Int64

    public init(quarantineID: Int64, usageDataID: Int64) {
        self.quarantineID = quarantineID
        self.usageDataID = usageDataID
    }

    enum CodingKeys: String, CodingKey { case quarantineID = "quarantine_id", usageDataID = "usage_data_id" }
}

/// `POST /usage_data` accepted: the answer GitLab's client reads (`conv_index.usage_data_id`).
public struct PingAcceptedBody: Encodable, Sendable {
    public struct Index: Encodable, Sendable {
        public var usageDataID: Int64
        enum CodingKeys: String, CodingKey { case usageDataID = "usage_data_id" }
    }

    public var convIndex: Index

    public init(usageDataID: Int64) { convIndex = Index(usageDataID: usageDataID) }

    enum CodingKeys: String, CodingKey { case convIndex = "conv_index" }
}

/// `GET /api/v1/ingest`: per day of receipt, what was accepted, deduplicated and rejected (by
/// reason); when the last ping came; the quarantine's size against its cap.
public struct IngestHealthBody: Encodable, Sendable {
    public struct Day: Encodable, Sendable {
        public var day: String
        public var accepted: Int64
        public var duplicates: Int64
        public var rejected: Int64
        public var rejectedByReason: [String: Int64]
        /// Pings stored whose `recorded_at` is on this day (by the time they describe, not receipt).
        public var recorded: Int64

        enum CodingKeys: String, CodingKey { case day, accepted, duplicates, rejected, rejectedByReason = "rejected_by_reason", recorded }
    }

    public struct Quarantine: Encodable, Sendable {
        public var entries: Int64
        public var bytes: Int64
        public var storedBytes: Int64
        public var maxBytes: Int64
        public var dropped: Int64

        enum CodingKeys: String, CodingKey { case entries, bytes, storedBytes = "stored_bytes", maxBytes = "max_bytes", dropped }
    }

    public var days: [Day]
    @Nullable public var lastPingReceivedAt: String?
    public var quarantine: Quarantine

    enum CodingKeys: String, CodingKey { case days, lastPingReceivedAt = "last_ping_received_at", quarantine }

    /// Every day from `fromDay` to `toDay`, days without pings included (all zero).
    public init(_ health: IngestHealth, fromDay: Int64, toDay: Int64, quarantineMaxBytes: Int64) {
        let byDay = Dictionary(health.days.map { ($0.day, $0) }, uniquingKeysWith: { a, _ in a })
        days = (fromDay...toDay).map { day in
            let d = byDay[day]
            return Day(day: isoDate(days: day), accepted: d?.accepted ?? 0, duplicates: d?.duplicates ?? 0,
                       rejected: d?.rejected.values.reduce(0, &+) ?? 0, rejectedByReason: d?.rejected ?? [:], recorded: d?.recorded ?? 0)
        }
        lastPingReceivedAt = health.lastPingReceivedAt?.description
        quarantine = Quarantine(entries: health.quarantined, bytes: health.quarantinedBytes, storedBytes: health.quarantineStoredBytes,
                                maxBytes: quarantineMaxBytes, dropped: health.quarantineDropped)
    }
}

/// `GET /api/v1/dashboards`: the dashboard definitions the UI draws.
public struct DashboardListBody: Encodable, Sendable {
    /// A definition file left out (at start) because it cannot be used.
    public struct Problem: Encodable, Sendable {
        public var file: String
        public var reason: String
        public init(file: String, reason: String) {
            self.file = file
            self.reason = reason
        }
    }

    public var dashboards: [Dashboard]
    /// Always present in the list's answer (empty when every file is in use).
    public var problems: [Problem]?

    public init(_ dashboards: [Dashboard], problems: [Problem]? = nil) {
        self.dashboards = dashboards
        self.problems = problems
    }
}

/// `GET /api/v1/pulls`: each instance `serve --pull-config` pulls, and how its pulls went.
public struct PullsBody: Encodable, Sendable {
    public struct Pull: Encodable, Sendable {
        var name: String
        /// Admins only (nil, and left out, for viewers).
        var url: String?
        @Nullable var lastAttemptAt: String?
        @Nullable var lastSuccessAt: String?
        @Nullable var lastUsageDataID: Int64?
        /// The last error's text for admins; for viewers only whether there is one.
        @Nullable var lastError: String?
        var failing: Bool
        var nextAt: String
        var successes: Int64
        var failures: Int64

        enum CodingKeys: String, CodingKey {
            case name, url, successes, failures, failing
            case lastAttemptAt = "last_attempt_at", lastSuccessAt = "last_success_at", lastUsageDataID = "last_usage_data_id"
            case lastError = "last_error", nextAt = "next_at"
        }

        /// Viewers get neither `url` nor `last_error` (both name hosts); `failing` says whether the last attempt failed.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            if let url {
                try c.encode(url, forKey: .url)
                try c.encode(_lastError, forKey: .lastError)
            }
            try c.encode(_lastAttemptAt, forKey: .lastAttemptAt)
            try c.encode(_lastSuccessAt, forKey: .lastSuccessAt)
            try c.encode(_lastUsageDataID, forKey: .lastUsageDataID)
            try c.encode(failing, forKey: .failing)
            try c.encode(nextAt, forKey: .nextAt)
            try c.encode(successes, forKey: .successes)
            try c.encode(failures, forKey: .failures)
        }
    }

    var intervalSeconds: Double
    var pulls: [Pull]

    enum CodingKeys: String, CodingKey {
        case pulls
        case intervalSeconds = "interval_seconds"
    }

    /// `details`: the URLs and error texts (admins).
    public init(intervalSeconds: Double, _ statuses: [ScheduledPulls.Status], details: Bool) {
        self.intervalSeconds = intervalSeconds
        pulls = statuses.map {
            Pull(name: $0.name, url: details ? $0.url : nil, lastAttemptAt: $0.lastAttemptAt?.description, lastSuccessAt: $0.lastSuccessAt?.description,
                 lastUsageDataID: $0.lastUsageDataID, lastError: details ? $0.lastError : nil, failing: $0.lastError != nil,
                 nextAt: $0.nextAt.description,
                 successes: $0.successes, failures: $0.failures)
        }
    }
}

/// A retention policy in the API (`null`: that part is kept forever).
public struct RetentionPolicyBody: Encodable, Sendable {
    @Nullable var payloadDays: Int?
    @Nullable var reportDays: Int?

    enum CodingKeys: String, CodingKey { case payloadDays = "payload_days", reportDays = "report_days" }

    public init(_ p: RetentionPolicy) {
        payloadDays = p.payloadDays
        reportDays = p.reportDays
    }
}

/// What a retention run removed (`POST /api/v1/retention`), or would remove (`dry_run`).
public struct RetentionReportBody: Encodable, Sendable {
    var dryRun: Bool
    var policy: RetentionPolicyBody
    @Nullable var payloadCutoff: String?
    @Nullable var reportCutoff: String?
    var payloads: Int64
    var payloadBytes: Int64
    var partitions: [String]
    var quarantineEntries: Int64
    var quarantineBytes: Int64
    var metadataReports: Int64
    var errorReports: Int64
    @Nullable var startedAt: String?
    @Nullable var finishedAt: String?

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", policy, payloadCutoff = "payload_cutoff", reportCutoff = "report_cutoff", payloads
        case payloadBytes = "payload_bytes", partitions, quarantineEntries = "quarantine_entries", quarantineBytes = "quarantine_bytes"
        case metadataReports = "metadata_reports", errorReports = "error_reports", startedAt = "started_at", finishedAt = "finished_at"
    }

    public init(_ r: RetentionReport, startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil) {
        dryRun = r.dryRun
        policy = RetentionPolicyBody(r.policy)
        payloadCutoff = r.payloadCutoff?.description
        reportCutoff = r.reportCutoff?.description
        payloads = r.payloads
        payloadBytes = r.payloadBytes
        partitions = r.partitions
        quarantineEntries = r.quarantineEntries
        quarantineBytes = r.quarantineBytes
        metadataReports = r.metadataReports
        errorReports = r.errorReports
        self.startedAt = startedAt?.description
        self.finishedAt = finishedAt?.description
    }
}

/// `GET /api/v1/retention`: the policy `serve` applies daily and the latest runs.
public struct RetentionStatusBody: Encodable, Sendable {
    @Nullable var policy: RetentionPolicyBody?
    var runs: [RetentionReportBody]

    public init(policy: RetentionPolicy?, runs: [RetentionRun]) {
        self.policy = policy.map(RetentionPolicyBody.init)
        self.runs = runs.map { RetentionReportBody($0.report, startedAt: $0.startedAt, finishedAt: $0.finishedAt) }
    }
}

/// `GET /api/v1/instrumentation/metrics`.
public struct InstrumentationMetricsBody: Encodable, Sendable {
    public struct Metric: Encodable, Sendable {
        var name: String
        var installations: Int
        var errors: Int
        var errorRate: Double
        @Nullable var timeElapsedP50: Double?
        @Nullable var timeElapsedP95: Double?
        @Nullable var timeElapsedMax: Double?

        enum CodingKeys: String, CodingKey {
            case name, installations, errors, errorRate = "error_rate", timeElapsedP50 = "time_elapsed_p50"
            case timeElapsedP95 = "time_elapsed_p95", timeElapsedMax = "time_elapsed_max"
        }
    }

    var from: String
    var to: String
    @Nullable var version: String?
    @Nullable var name: String?
    /// Metric names found before `limit` cut the list.
    var total: Int
    /// Set when more distinct names were reported than one request tracks (`InstrumentationHealth.maxNames`).
    var truncated: Bool
    var metrics: [Metric]

    public init(fromDay: Int64, toDay: Int64, version: String?, name: String?, _ metrics: [InstrumentationHealth.MetricHealth], limit: Int,
                truncated: Bool = false) {
        self.truncated = truncated
        from = isoDate(days: fromDay)
        to = isoDate(days: toDay)
        self.version = version
        self.name = name
        total = metrics.count
        self.metrics = metrics.prefix(limit).map {
            Metric(name: $0.name, installations: $0.installations, errors: $0.errors, errorRate: ($0.errorRate * 1e6).rounded() / 1e6,
                   timeElapsedP50: $0.timeElapsedP50, timeElapsedP95: $0.timeElapsedP95, timeElapsedMax: $0.timeElapsedMax)
        }
    }
}

/// `GET /api/v1/instrumentation/errors`.
public struct InstrumentationErrorsBody: Encodable, Sendable {
    public struct Group: Encodable, Sendable {
        var message: String
        var installations: Int
        var reports: Int
        var versions: [String: Int]
        var firstSeen: String
        var lastSeen: String

        enum CodingKeys: String, CodingKey { case message, installations, reports, versions, firstSeen = "first_seen", lastSeen = "last_seen" }
    }

    public struct Day: Encodable, Sendable {
        var day: String
        var reports: Int
    }

    var from: String
    var to: String
    var total: Int
    var errors: [Group]
    /// Every day of the window, zeros included.
    var days: [Day]

    public init(fromDay: Int64, toDay: Int64, _ groups: [InstrumentationHealth.ErrorGroup], perDay: [Int64: Int], limit: Int) {
        from = isoDate(days: fromDay)
        to = isoDate(days: toDay)
        total = groups.count
        days = (fromDay...toDay).map { Day(day: isoDate(days: $0), reports: perDay[$0] ?? 0) }
        errors = groups.prefix(limit).map {
            Group(message: $0.message, installations: $0.installations, reports: $0.reports, versions: $0.versions,
                  firstSeen: $0.firstSeen.description, lastSeen: $0.lastSeen.description)
        }
    }
}

/// One annotation (`GET /api/v1/annotations`, and the answer to adding one).
public struct AnnotationBody: Encodable, Sendable {
    var id: Int64
    var at: String
    var kind: String
    var text: String
    @Nullable var metric: String?
    var auto: Bool

    public init(_ a: Annotation) {
        id = a.id
        at = a.at.description
        kind = a.kind.rawValue
        text = a.text
        metric = a.metric
        auto = a.auto
    }
}

public struct AnnotationListBody: Encodable, Sendable {
    var annotations: [AnnotationBody]
    public init(_ list: [Annotation]) { annotations = list.map(AnnotationBody.init) }
}

/// `DELETE /api/v1/annotations/{id}`.
public struct AnnotationDeletedBody: Encodable, Sendable {
    var id: Int64
    var deleted = true
    public init(id: Int64) { self.id = id }
}
