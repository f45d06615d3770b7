/// The dimensions rollups are kept by, in tuple (and `rollup_tuples` column) order; the raw
/// value is the API name and the column name.
public enum Dimension: String, Codable, Sendable, CaseIterable, Comparable {
    case edition, tier
    case installationType = "installation_type"
    case version
    case registryVendor = "registry_vendor"
    case `internal`
    case optionalMetrics = "optional_metrics"

    public static func < (a: Dimension, b: Dimension) -> Bool { a.rawValue < b.rawValue }
}

/// The dimension values a ping is counted under. A missing, empty or unparseable value is
/// the group `unknown`.
public struct RollupTuple: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let unknown = "unknown"
    public static let dimensions = Dimension.allCases.map(\.rawValue)

    public let edition: String
    public let tier: String
    public let installationType: String
    /// `major.minor`.
    public let version: String
    public let registryVendor: String
    /// `true` for GitLab's own installations (see `InternalInstallations`), else `false`.
    public let isInternal: String
    /// `collected`, `not_collected` or `unknown` (see `PingFacts.optionalMetrics`).
    public let optionalMetrics: String
    /// Computed once: tuples are hashed for every cell a ping touches.
    private let hash: Int

    public init(edition: String?, tier: String?, installationType: String?, versionMajor: Int?, versionMinor: Int?,
                registryVendor: String?, isInternal: Bool = false, optionalMetrics: String? = nil) {
        func known(_ s: String?) -> String {
            guard let t = s?.trimmingASCIIWhitespace(), !t.isEmpty else { return Self.unknown }
            return t
        }
        let version = versionMajor.flatMap { major in versionMinor.map { "\(major).\($0)" } } ?? Self.unknown
        self.init(fields: [known(edition), known(tier), known(installationType), version, known(registryVendor),
                           isInternal ? "true" : "false", known(optionalMetrics)])
    }

    /// A tuple from its stored values, in `dimensions` order, taken as they are.
    public init(fields: [String]) {
        precondition(fields.count == Self.dimensions.count, "a rollup tuple has \(Self.dimensions.count) dimensions")
        edition = fields[0]
        tier = fields[1]
        installationType = fields[2]
        version = fields[3]
        registryVendor = fields[4]
        isInternal = fields[5]
        optionalMetrics = fields[6]
        hash = fields.hashValue
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    public static func == (a: RollupTuple, b: RollupTuple) -> Bool { a.hash == b.hash && a.fields == b.fields }

    public init(_ facts: PingFacts) {
        self.init(edition: facts.edition, tier: facts.tier?.rawValue, installationType: facts.installationType,
                  versionMajor: facts.parsedVersion?.major, versionMinor: facts.parsedVersion?.minor,
                  registryVendor: facts.registryVendor, isInternal: facts.isInternal, optionalMetrics: facts.optionalMetrics)
    }

    /// The value of a dimension.
    public func value(of dimension: Dimension) -> String {
        switch dimension {
        case .edition: edition
        case .tier: tier
        case .installationType: installationType
        case .version: version
        case .registryVendor: registryVendor
        case .internal: isInternal
        case .optionalMetrics: optionalMetrics
        }
    }

    public var fields: [String] { [edition, tier, installationType, version, registryVendor, isInternal, optionalMetrics] }

    public static func < (a: RollupTuple, b: RollupTuple) -> Bool { a.fields.lexicographicallyPrecedes(b.fields) }

    public var description: String { fields.joined(separator: "/") }
}
