/// The identity and headline facts of one Service Ping, as pingroll stores them in typed columns.
///
/// Optional facts are nil when the payload did not carry them, carried a failure value, or
/// carried a value of the wrong type: nil always means "unknown", never "false" or "zero".
public struct PingFacts: Equatable, Sendable {
    public var installation: InstallationKey
    public var recordedAt: Timestamp
    public var version: String?
    public var parsedVersion: GitLabVersion?
    /// Enterprise Edition: from `edition` when sent, otherwise from the version's `-ee` suffix.
    public var isEE: Bool?
    public var edition: String?
    public var tier: Tier?
    public var installationType: String?
    public var activeUserCount: Int64?
    public var registryEnabled: Bool?
    public var registryVendor: String?
    public var registryVersion: String?
    /// `container_registry_server.db_enabled` exactly as reported; whether it is meaningful
    /// (registry enabled, vendor `gitlab`) is decided where it is read.
    public var dbEnabled: Bool?
    /// GitLab's own installations (development kits, `*.gitlab.com`, GitLab.com itself), which
    /// adoption numbers leave out unless asked; see `InternalInstallations`.
    public var isInternal = false
    /// `settings.collected_data_categories`, lower-cased, sorted and without duplicates; nil
    /// when the ping does not carry it as a list of strings (GitLab before 14.1).
    public var dataCategories: [String]?
    /// What the ping says about each catalog metric; absent means unknown.
    public var observations: [String: MetricObservation] = [:]

    public init(installation: InstallationKey, recordedAt: Timestamp) {
        self.installation = installation
        self.recordedAt = recordedAt
    }
}

extension PingFacts {
    /// Whether the installation collects optional metrics, as the `optional_metrics` dimension
    /// says it: `collected`, `not_collected`, or nil (unknown) without a categories list.
    public var optionalMetrics: String? { Self.optionalMetrics(for: dataCategories) }

    /// The `optional_metrics` value of a (normalised) categories list; nil when unknown.
    public static func optionalMetrics(for categories: [String]?) -> String? {
        categories.map { $0.contains(DataCategory.optional.rawValue) ? DataCategory.collected : DataCategory.notCollected }
    }

    /// The categories list as stored (comma-separated), nil when unknown.
    public var dataCategoriesText: String? { dataCategories?.joined(separator: ",") }

    /// A categories list read back from its stored text (`dataCategoriesText`).
    public static func categories(stored text: String?) -> [String]? {
        text.map { $0.splitting(atASCII: UInt8(ascii: ",")) }
    }

    /// Normalises a categories list: GitLab sent `Standard` … `Optional` before 15.x and
    /// `standard` … `optional` since; the data team lower-cases them too. Only names of ASCII
    /// letters and underscores are kept: the list is stored comma-joined and read back to
    /// rebuild a ping's tuple, so a name with a comma (or anything else) must not survive to
    /// split differently then.
    public static func normalizedCategories(_ list: [String]) -> [String] {
        Array(Set(list.map { $0.trimmingASCIIWhitespace() }.filter { name in
            !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
        }.map { $0.lowercased() })).sorted()
    }
}

/// GitLab's Service Ping data categories (`data_category` of a metric definition). An
/// installation sends the metrics of the categories it collects, listed in
/// `settings.collected_data_categories`; EE instances can turn `optional` off.
public enum DataCategory: String, Codable, Sendable, CaseIterable {
    case standard, subscription, operational, optional

    /// Values of the `optional_metrics` dimension.
    public static let collected = "collected"
    public static let notCollected = "not_collected"
}

/// GitLab's data team's rule for internal installations (`prep_ping_instance.sql`): the
/// GitLab Development Kit, hosts under `gitlab.com`, and GitLab.com's own uuid.
public enum InternalInstallations {
    public static let gitlabComUUID = "ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f"
    public static let developmentKit = "gitlab-development-kit"

    /// `key.hostname` is already trimmed and lower-cased.
    public static func isInternal(_ key: InstallationKey, installationType: String?) -> Bool {
        if installationType?.trimmingASCIIWhitespace().lowercased() == developmentKit { return true }
        if key.uuid.lowercased() == gitlabComUUID { return true }
        let host = key.hostname.hasSuffix(".") ? String(key.hostname.dropLast()) : key.hostname
        return host == "gitlab.com" || host.hasSuffix(".gitlab.com")
    }
}

/// An installation: a uuid plus the lower-cased, trimmed hostname (empty when missing).
public struct InstallationKey: Hashable, Sendable, CustomStringConvertible {
    public let uuid: String
    public let hostname: String

    public init(uuid: String, hostname: String?) {
        self.uuid = uuid.trimmingASCIIWhitespace()
        self.hostname = (hostname ?? "").trimmingASCIIWhitespace().lowercased()
    }

    public var description: String { hostname.isEmpty ? uuid : "\(uuid)@\(hostname)" }
}
