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
    /// What the ping says about each catalog metric; absent means unknown.
    public var observations: [String: MetricObservation] = [:]

    public init(installation: InstallationKey, recordedAt: Timestamp) {
        self.installation = installation
        self.recordedAt = recordedAt
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
