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
    public var lastPingAt: String?
    public var version: String?
    public var edition: String?
    public var tier: String?
    public var installationType: String?
    public var registryEnabled: Bool?
    public var registryVendor: String?
    public var registryVersion: String?
    public var dbEnabled: Bool?
    public var isInternal: Bool
    public var collectedDataCategories: [String]?
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

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(uuid, forKey: .uuid)
        try c.encode(hostname, forKey: .hostname)
        try c.encode(firstSeenAt, forKey: .firstSeenAt)
        try c.encode(lastSeenAt, forKey: .lastSeenAt)
        // Optional facts: null when unknown.
        try c.encode(lastPingAt, forKey: .lastPingAt)
        try c.encode(version, forKey: .version)
        try c.encode(edition, forKey: .edition)
        try c.encode(tier, forKey: .tier)
        try c.encode(installationType, forKey: .installationType)
        try c.encode(registryEnabled, forKey: .registryEnabled)
        try c.encode(registryVendor, forKey: .registryVendor)
        try c.encode(registryVersion, forKey: .registryVersion)
        try c.encode(dbEnabled, forKey: .dbEnabled)
        try c.encode(isInternal, forKey: .isInternal)
        try c.encode(collectedDataCategories, forKey: .collectedDataCategories)
        try c.encode(optionalMetrics, forKey: .optionalMetrics)
    }
}

/// `GET /api/v1/installations`: a page and the cursor of the next one (null on the last).
public struct InstallationPage: Encodable, Sendable {
    public var installations: [InstallationBody]
    public var nextCursor: String?

    public init(installations: [InstallationBody], nextCursor: String?) {
        self.installations = installations
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case installations, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(installations, forKey: .installations)
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}

/// `GET /api/v1/installations/{uuid}`: every hostname of the uuid.
public struct InstallationList: Encodable, Sendable {
    public var installations: [InstallationBody]
    public init(installations: [InstallationBody]) { self.installations = installations }
}
