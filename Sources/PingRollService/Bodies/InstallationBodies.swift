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
