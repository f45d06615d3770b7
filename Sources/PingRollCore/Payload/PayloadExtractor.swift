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
        case licenseExpiresAt = "license_expires_at"
        case dataCategories = "settings.collected_data_categories"
    }

    /// How far in the future `recorded_at` may lie (clock skew), in milliseconds.
    public static let allowedFutureSkewMs: Int64 = 24 * 3600 * 1000

    private let scanner: JSONScanner
    /// The catalog whose metrics become `PingFacts.observations`; nil extracts identity facts only.
    public let catalog: MetricCatalog?
    private let slots: [String: Int]

    public init(maxDepth: Int = 128, catalog: MetricCatalog? = nil) {
        var paths = Field.allCases.map(\.rawValue)
        for path in catalog?.capturedKeyPaths ?? [] where !paths.contains(path) { paths.append(path) }
        self.catalog = catalog
        slots = Dictionary(uniqueKeysWithValues: paths.enumerated().map { ($1, $0) })
        scanner = JSONScanner(paths: KeyPathSet(paths), maxDepth: maxDepth)
    }

    public func extract(_ bytes: [UInt8], receivedAt now: Timestamp) throws(PayloadRejection) -> PingFacts {
        let scan: JSONScanner.Result
        do { scan = try scanner.scan(bytes) } catch { throw .invalidJSON(error) }
        guard scan.topLevelIsObject else { throw .notAnObject }
        func value(_ f: Field) -> CapturedValue? { scan.values[slots[f.rawValue]!] }

        // Identity and dimension strings are keys and labels: a NUL in one is refused, never
        // stored (PostgreSQL text cannot hold it, and C APIs would cut the string there).
        for field in Field.allCases {
            if case .string(let s)? = value(field), s.utf8.contains(0) {
                throw .invalidField(name: field.rawValue, problem: "must not contain a NUL character (\\u0000)")
            }
        }
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
        // GitLab's data team counts a paid edition whose licence expired before the ping as free.
        if facts.tier != nil, facts.tier != .free, let expires = Self.instant(value(.licenseExpiresAt)), expires < recordedAt {
            facts.tier = .free
        }
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
        facts.isInternal = InternalInstallations.isInternal(facts.installation, installationType: facts.installationType)
        facts.dataCategories = Self.categories(value(.dataCategories))
        if let catalog {
            facts.observations = observations(catalog, scan.values, categories: facts.dataCategories)
        }
        return facts
    }

    /// Observations of every catalog metric whose value is known and whose conditions hold, and
    /// `notCollected` for an absent metric of a data category the installation does not collect.
    /// - Parameter categories: the ping's normalised `settings.collected_data_categories`
    ///   (decoded once per ping by the caller).
    func observations(_ catalog: MetricCatalog, _ values: [CapturedValue?], categories: [String]?) -> [String: MetricObservation] {
        var result: [String: MetricObservation] = [:]
        for metric in catalog.metrics {
            if let conditions = metric.when,
               !conditions.allSatisfy({ $0.holds(for: values[slots[$0.keyPath]!]) }) { continue }
            let value = values[slots[metric.keyPath]!]
            if value == nil, let category = metric.dataCategory, let categories, !categories.contains(category.rawValue) {
                result[metric.keyPath] = .notCollected
                continue
            }
            guard let observation = MetricObservation.interpret(value, as: metric.valueType) else { continue }
            if case .bool(let b) = observation, !metric.conditions(for: b).allSatisfy({ $0.holds(for: values[slots[$0.keyPath]!]) }) { continue }
            result[metric.keyPath] = observation
        }
        return result
    }

    /// Observations of the catalog metrics in a stored raw payload (for rebuilds); nil when the
    /// payload no longer scans.
    public func observations(of payload: [UInt8]) -> [String: MetricObservation]? {
        guard let catalog, let scan = try? scanner.scan(payload) else { return nil }
        return observations(catalog, scan.values, categories: Self.categories(scan.values[slots[Field.dataCategories.rawValue]!]))
    }

    /// `settings.collected_data_categories`, normalised; nil unless it is a list of strings.
    static func categories(_ v: CapturedValue?) -> [String]? {
        v?.stringElements.map(PingFacts.normalizedCategories)
    }

    /// `license_expires_at` as GitLab sends it: a date (`2024-01-01`, midnight UTC) or a timestamp.
    static func instant(_ v: CapturedValue?) -> Timestamp? {
        guard let text = v?.stringValue?.trimmingASCIIWhitespace(), !text.isEmpty else { return nil }
        if let day = days(isoDate: text) { return Timestamp(milliseconds: day * 86_400_000) }
        return Timestamp.parseISO8601(text)
    }

    private func nonEmptyString(_ v: CapturedValue?) -> String? {
        guard let s = v?.stringValue?.trimmingASCIIWhitespace(), !s.isEmpty else { return nil }
        return s
    }
}
