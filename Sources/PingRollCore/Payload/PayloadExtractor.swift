/// Turns the bytes of a Service Ping into `PingFacts` in one pass, or says precisely why not.
///
/// The whole document is validated (see `JSONScanner`); only the identity key paths are decoded.
public struct PayloadExtractor: Sendable {
    enum Field: String, CaseIterable {
        case uuid, hostname, recordedAt = "recorded_at", version, edition
        case installationType = "installation_type", activeUserCount = "active_user_count"
        case registryEnabled = "container_registry_enabled"
        case registryVendor = "container_registry_server.vendor"
        case registryVersion = "container_registry_server.version"
        case dbEnabled = "container_registry_server.db_enabled"
    }

    /// How far in the future `recorded_at` may lie (clock skew), in milliseconds.
    public static let allowedFutureSkewMs: Int64 = 24 * 3600 * 1000

    private let scanner: JSONScanner

    public init(maxDepth: Int = 128) {
        scanner = JSONScanner(paths: KeyPathSet(Field.allCases.map(\.rawValue)), maxDepth: maxDepth)
    }

    public func extract(_ bytes: [UInt8], receivedAt now: Timestamp) throws(PayloadRejection) -> PingFacts {
        let scan: JSONScanner.Result
        do { scan = try scanner.scan(bytes) } catch { throw .invalidJSON(error) }
        guard scan.topLevelIsObject else { throw .notAnObject }
        func value(_ f: Field) -> CapturedValue? { scan.values[Field.allCases.firstIndex(of: f)!] }

        guard case .string(let rawUUID)? = value(.uuid), !rawUUID.trimmingASCIIWhitespace().isEmpty else {
            throw .invalidField(name: "uuid", problem: "is required and must be a non-empty string")
        }
        let hostname: String?
        switch value(.hostname) {
        case nil, .null?: hostname = nil
        case .string(let h)?: hostname = h
        default: throw .invalidField(name: "hostname", problem: "must be a string when present")
        }
        guard let recordedText = value(.recordedAt) else {
            throw .invalidField(name: "recorded_at", problem: "is required (an ISO 8601 timestamp)")
        }
        guard case .string(let text) = recordedText, let recordedAt = Timestamp.parseISO8601(text) else {
            throw .invalidField(name: "recorded_at", problem: "must be an ISO 8601 timestamp such as 2024-01-15T10:00:00Z")
        }
        guard recordedAt.milliseconds - now.milliseconds <= Self.allowedFutureSkewMs else {
            throw .recordedInFuture(recordedAt: recordedAt, now: now)
        }

        var facts = PingFacts(installation: InstallationKey(uuid: rawUUID, hostname: hostname), recordedAt: recordedAt)
        facts.version = nonEmptyString(value(.version))
        facts.parsedVersion = facts.version.flatMap(GitLabVersion.init)
        facts.edition = nonEmptyString(value(.edition))
        facts.tier = facts.edition.flatMap { Tier(edition: $0) }
        if let edition = facts.edition {
            facts.isEE = edition.trimmingASCIIWhitespace() != "CE"
        } else if let version = facts.parsedVersion {
            facts.isEE = version.isEE
        }
        facts.installationType = nonEmptyString(value(.installationType))
        facts.activeUserCount = value(.activeUserCount)?.numberValue?.int64.flatMap { $0 >= 0 ? $0 : nil }
        facts.registryEnabled = value(.registryEnabled)?.boolValue
        facts.registryVendor = value(.registryVendor)?.stringValue?.trimmingASCIIWhitespace()
        facts.registryVersion = nonEmptyString(value(.registryVersion))
        facts.dbEnabled = value(.dbEnabled)?.boolValue
        return facts
    }

    private func nonEmptyString(_ v: CapturedValue?) -> String? {
        guard let s = v?.stringValue?.trimmingASCIIWhitespace(), !s.isEmpty else { return nil }
        return s
    }
}
