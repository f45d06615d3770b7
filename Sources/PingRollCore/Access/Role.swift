/// API roles, each including the ones below it: `viewer` < `pm` < `admin`.
public enum Role: String, Sendable, CaseIterable, Comparable, Codable {
    /// Dashboards, rollups, aggregate beta numbers; no personal data.
    case viewer
    /// Beta records with contacts, exports, edits.
    case pm
    /// Tokens, reprocessing, retention.
    case admin

    public static func < (a: Role, b: Role) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// A bearer token as handed out: `prt_<id>_<secret>`. The id (public, 12 characters) finds the
/// stored token; only a hash of the secret is stored, and it is compared in constant time.
public struct BearerToken: Equatable, Sendable {
    public let id: String
    public let secret: String

    public static let prefix = "prt_"
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// A new random token (ids 12 characters, secrets 40, from the system's CSPRNG).
    public static func generate() -> BearerToken {
        var rng = SystemRandomNumberGenerator()
        func random(_ n: Int) -> String { String((0..<n).map { _ in alphabet.randomElement(using: &rng)! }) }
        return BearerToken(id: random(12), secret: random(40))
    }

    public init(id: String, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// Parses `prt_<id>_<secret>`; nil for anything else.
    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let parts = text.dropFirst(Self.prefix.count).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 12, parts[1].count == 40,
              (parts[0] + parts[1]).allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        id = String(parts[0])
        secret = String(parts[1])
    }

    public var text: String { "\(Self.prefix)\(id)_\(secret)" }

}

/// An API token as stored (never its secret).
public struct TokenInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: Role
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?

    public init(id: String, name: String, role: Role, createdAt: Timestamp, revokedAt: Timestamp?) {
        self.id = id
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}
