import PingRollCore
import PingRollStore

/// An installation as the API shows it. Unknown facts are `null`, never left out, so a client
/// can tell "unknown" from a member it does not know.
public struct InstallationBody: Encodable, Sendable, Equatable {
    public var id: Int64
    public var uuid: String
    public var hostname: String
    public var firstSeenAt: String
    public var lastSeenAt: String
    @Nullable public var lastPingAt: String?
    @Nullable public var version: String?
    @Nullable public var edition: String?
    @Nullable public var tier: String?
    @Nullable public var installationType: String?
    @Nullable public var registryEnabled: Bool?
    @Nullable public var registryVendor: String?
    @Nullable public var registryVersion: String?
    @Nullable public var dbEnabled: Bool?
    public var isInternal: Bool
    @Nullable public var collectedDataCategories: [String]?
    public var optionalMetrics: String

    public init(_ r: InstallationRecord) {
        id = r.id; uuid = r.key.uuid; hostname = r.key.hostname
        firstSeenAt = r.firstSeenAt.description; lastSeenAt = r.lastSeenAt.description; lastPingAt = r.lastRecordedAt?.description
        version = r.version; edition = r.edition; tier = r.tier; installationType = r.installationType
        registryEnabled = r.registryEnabled; registryVendor = r.registryVendor; registryVersion = r.registryVersion
        dbEnabled = r.dbEnabled; isInternal = r.isInternal; collectedDataCategories = r.dataCategories
        optionalMetrics = r.tuple.optionalMetrics
    }

    enum CodingKeys: String, CodingKey {
        case id, uuid, hostname, firstSeenAt = "first_seen_at", lastSeenAt = "last_seen_at", lastPingAt = "last_ping_at"
        case version, edition, tier, installationType = "installation_type", registryEnabled = "registry_enabled"
        case registryVendor = "registry_vendor", registryVersion = "registry_version", dbEnabled = "db_enabled"
        case isInternal = "internal", collectedDataCategories = "collected_data_categories", optionalMetrics = "optional_metrics"
    }
}

/// `GET /api/v1/installations`: a page and the cursor of the next one (null on the last).
public struct InstallationPage: Encodable, Sendable {
    public var installations: [InstallationBody]
    @Nullable public var nextCursor: String?

    public init(installations: [InstallationBody], nextCursor: String?) {
        self.installations = installations
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case installations, nextCursor = "next_cursor" }
}

/// `GET /api/v1/installations/{uuid}`: every hostname of the uuid.
public struct InstallationList: Encodable, Sendable {
    public var installations: [InstallationBody]
    public init(installations: [InstallationBody]) { self.installations = installations }
}

/// `GET /api/v1/installations?metric=...&value=...&interval=...&period=...`: the installations
/// one series cell counts, each with the ping that counted it.
public struct CellInstallationsBody: Encodable, Sendable {
    public struct Member: Encodable, Sendable {
        public var installation: InstallationBody
        public var pingID: Int64
        public var recordedAt: String

        enum CodingKeys: String, CodingKey { case installation, pingID = "ping_id", recordedAt = "recorded_at" }
    }

    public var metric: String
    public var interval: String
    public var period: String
    public var value: String
    public var installations: [Member]
    @Nullable public var nextCursor: String?

    enum CodingKeys: String, CodingKey { case metric, interval, period, value, installations, nextCursor = "next_cursor" }

    public init(metric: String, interval: PeriodKind, periodStart: Int64, selector: CellSelector, _ page: CellMembersPage) {
        self.metric = metric
        self.interval = interval.rawValue
        period = isoDate(days: periodStart)
        value = selector.description
        installations = page.members.map { Member(installation: InstallationBody($0.installation), pingID: $0.pingID, recordedAt: $0.recordedAt.description) }
        nextCursor = page.nextCursor.map { "\($0)" }
    }
}

/// `GET /api/v1/installations/{uuid}/history`: what an installation's page shows.
public struct InstallationHistoryBody: Encodable, Sendable {
    public struct Ping: Encodable, Sendable {
        var id: Int64
        var hostname: String
        var recordedAt: String
        var receivedAt: String
        @Nullable var version: String?
        @Nullable var edition: String?
        @Nullable var tier: String?
        @Nullable var installationType: String?
        @Nullable var registryEnabled: Bool?
        @Nullable var registryVendor: String?
        @Nullable var registryVersion: String?
        @Nullable var dbEnabled: Bool?
        var payloadDropped: Bool

        enum CodingKeys: String, CodingKey {
            case id, hostname, recordedAt = "recorded_at", receivedAt = "received_at", version, edition, tier, installationType = "installation_type"
            case registryEnabled = "registry_enabled", registryVendor = "registry_vendor", registryVersion = "registry_version"
            case dbEnabled = "db_enabled", payloadDropped = "payload_dropped"
        }
    }

    public struct Metadata: Encodable, Sendable {
        var receivedAt: String
        var metrics: Int
        var failed: [String]
        enum CodingKeys: String, CodingKey { case receivedAt = "received_at", metrics, failed }
    }

    public struct SubmissionError: Encodable, Sendable {
        var receivedAt: String
        @Nullable var version: String?
        var message: String
        enum CodingKeys: String, CodingKey { case receivedAt = "received_at", version, message }
    }

    /// No contacts: a viewer sees the program and the status.
    public struct EnrollmentSummary: Encodable, Sendable {
        var program: String
        var status: String
        var updatedAt: String
        enum CodingKeys: String, CodingKey { case program, status, updatedAt = "updated_at" }
    }

    var installations: [InstallationBody]
    var pings: [Ping]
    var metadataReports: [Metadata]
    var errorReports: [SubmissionError]
    var enrollments: [EnrollmentSummary]

    enum CodingKeys: String, CodingKey {
        case installations, pings, metadataReports = "metadata_reports", errorReports = "error_reports", enrollments
    }

    public init(installations: [InstallationRecord], pings: [PingFactsRecord], metadata: [StoredClientReport], errors: [StoredClientReport],
                enrollments: [Enrollment]) {
        self.installations = installations.map(InstallationBody.init)
        self.pings = pings.map {
            Ping(id: $0.id, hostname: $0.hostname, recordedAt: $0.recordedAt.description, receivedAt: $0.receivedAt.description, version: $0.version,
                 edition: $0.edition, tier: $0.tier, installationType: $0.installationType, registryEnabled: $0.registryEnabled,
                 registryVendor: $0.registryVendor, registryVersion: $0.registryVersion, dbEnabled: $0.dbEnabled, payloadDropped: $0.payloadDropped)
        }
        metadataReports = metadata.map { report in
            let entries = report.metricEntries ?? MetadataEntries.parse(Array(report.body.utf8)).entries
            return Metadata(receivedAt: report.receivedAt.description, metrics: entries.count, failed: entries.filter(\.failed).map(\.name).sorted())
        }
        errorReports = errors.map {
            SubmissionError(receivedAt: $0.receivedAt.description, version: $0.version, message: InstrumentationHealth.normalize($0.message ?? ""))
        }
        self.enrollments = enrollments.map { EnrollmentSummary(program: $0.program, status: $0.status.rawValue, updatedAt: $0.updatedAt.description) }
    }
}
