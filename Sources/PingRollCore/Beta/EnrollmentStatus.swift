/// Where a beta enrollment is in its migration.
public enum EnrollmentStatus: String, Sendable, CaseIterable, Codable {
    case interested, enrolled, importing, migrated, withdrawn, blocked

    /// The statuses reachable from this one. `blocked` returns to the status it was blocked
    /// from (`blockedFrom`) or goes to `withdrawn`.
    public func allowedNext(blockedFrom: EnrollmentStatus?) -> [EnrollmentStatus] {
        switch self {
        case .interested: [.enrolled, .withdrawn, .blocked]
        case .enrolled: [.importing, .withdrawn, .blocked]
        case .importing: [.migrated, .withdrawn, .blocked]
        case .migrated: [.withdrawn]
        case .blocked: (blockedFrom.map { [$0] } ?? []) + [.withdrawn]
        case .withdrawn: [.enrolled]
        }
    }
}

/// Inputs to the beta program, checked.
public enum BetaValidation {
    public static let storageDrivers = ["filesystem", "s3", "gcs", "azure", "swift", "oss"]
    public static let databaseSetups = ["bundled", "external"]
    public static let importModes = ["one-step", "three-step"]

    /// A plausible e-mail address: one `@`, a dotted domain, no spaces, at most 254 characters.
    public static func isEmail(_ s: String) -> Bool {
        guard s.count <= 254, !s.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "<" || $0 == ">" || $0 == "," }) else { return false }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
            && (labels.last?.count ?? 0) >= 2
    }

    /// Bytes from `500GB`, `2 TiB`, `1.5tb`, `123456` (decimal units are powers of 1000, binary of 1024).
    public static func parseSize(_ text: String) -> Int64? {
        let t = text.trimmingASCIIWhitespace().replacingOccurrences(of: " ", with: "").lowercased()
        let units: [(String, Double)] = [("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
                                         ("pib", 1_125_899_906_842_624), ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("pb", 1e15),
                                         ("k", 1e3), ("m", 1e6), ("g", 1e9), ("t", 1e12), ("b", 1)]
        var number = Substring(t), factor = 1.0
        for (suffix, f) in units where t.hasSuffix(suffix) {
            number = t.dropLast(suffix.count)
            factor = f
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number),
              value >= 0, value * factor < 9.0e18 else { return nil }
        return Int64((value * factor).rounded())
    }
}
