/// A GitLab version string such as `16.5.1-ee` or `17.0.0-pre`, split into its numbers.
public struct GitLabVersion: Equatable, Sendable {
    public let major: Int
    public let minor: Int
    public let patch: Int?
    /// Whether the version carries the `-ee` suffix GitLab's Enterprise Edition reports.
    public let isEE: Bool

    /// Parses `MAJOR.MINOR[.PATCH][-suffix]`; nil when there is no `MAJOR.MINOR`.
    public init?(_ text: String) {
        let trimmed = text.trimmingASCIIWhitespace()
        let core = trimmed.prefix { $0 != "-" && $0 != "+" && $0 != " " }
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 4,
              let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0,
              major < 1000, minor < 1000
        else { return nil }
        self.major = major
        self.minor = minor
        self.patch = parts.count >= 3 ? Int(parts[2]) : nil
        self.isEE = trimmed.lowercased().hasSuffix("-ee")
    }

    /// `major.minor`, the form rollups group by.
    public var majorMinor: String { "\(major).\(minor)" }
}

/// GitLab's subscription tier, derived from the edition the way GitLab's data team does.
public enum Tier: String, Sendable, CaseIterable {
    case free, starter, premium, ultimate

    /// `CE`, `EE Free` → free; `EE`, `EES` → starter; `EEP` → premium; `EEU` → ultimate.
    public init?(edition: String) {
        switch edition.trimmingASCIIWhitespace() {
        case "CE", "EE Free": self = .free
        case "EE", "EES": self = .starter
        case "EEP": self = .premium
        case "EEU": self = .ultimate
        default: return nil
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing ASCII spaces, tabs and newlines.
    public func trimmingASCIIWhitespace() -> String {
        // By scalar, not by Character: "\r\n" is one Character, and a combining mark after a
        // space would hide the space from a Character test.
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
