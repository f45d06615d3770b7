/// The dimension values a ping is counted under. A missing, empty or unparseable value is
/// the group `unknown`.
public struct RollupTuple: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let unknown = "unknown"
    public static let dimensions = ["edition", "tier", "installation_type", "version", "registry_vendor"]

    public var edition: String
    public var tier: String
    public var installationType: String
    /// `major.minor`.
    public var version: String
    public var registryVendor: String

    public init(edition: String?, tier: String?, installationType: String?, versionMajor: Int?, versionMinor: Int?,
                registryVendor: String?) {
        func known(_ s: String?) -> String {
            guard let t = s?.trimmingASCIIWhitespace(), !t.isEmpty else { return Self.unknown }
            return t
        }
        self.edition = known(edition)
        self.tier = known(tier)
        self.installationType = known(installationType)
        if let major = versionMajor, let minor = versionMinor { version = "\(major).\(minor)" } else { version = Self.unknown }
        self.registryVendor = known(registryVendor)
    }

    public init(_ facts: PingFacts) {
        self.init(edition: facts.edition, tier: facts.tier?.rawValue, installationType: facts.installationType,
                  versionMajor: facts.parsedVersion?.major, versionMinor: facts.parsedVersion?.minor,
                  registryVendor: facts.registryVendor)
    }

    /// The value of a dimension by its API name.
    public func value(of dimension: String) -> String? {
        switch dimension {
        case "edition": edition
        case "tier": tier
        case "installation_type": installationType
        case "version": version
        case "registry_vendor": registryVendor
        default: nil
        }
    }

    var fields: [String] { [edition, tier, installationType, version, registryVendor] }

    public static func < (a: RollupTuple, b: RollupTuple) -> Bool { a.fields.lexicographicallyPrecedes(b.fields) }

    public var description: String { fields.joined(separator: "/") }
}
