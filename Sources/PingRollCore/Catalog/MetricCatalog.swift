import FoundationEssentials

/// The tracked metrics: which key paths of a ping are rolled up, how, and when they mean something.
///
/// Loaded from `schemas/metrics.catalog.json` (validated by `schemas/metric-catalog.schema.json`).
public struct MetricCatalog: Sendable, Equatable {
    public var metrics: [MetricDefinition]

    public init(metrics: [MetricDefinition]) throws(CatalogError) {
        var seen = Set<String>()
        for m in metrics {
            guard MetricDefinition.isValidKeyPath(m.keyPath) else { throw .invalid("`\(m.keyPath)` is not a dotted key path of letters, digits and underscores") }
            guard seen.insert(m.keyPath).inserted else { throw .invalid("`\(m.keyPath)` is listed twice") }
            for c in m.allConditions where !MetricDefinition.isValidKeyPath(c.keyPath) {
                throw .invalid("`\(m.keyPath)`: condition key path `\(c.keyPath)` is not valid")
            }
            if (m.whenTrue != nil || m.whenFalse != nil) && m.valueType != .boolean {
                throw .invalid("`\(m.keyPath)`: when_true and when_false are only for boolean metrics")
            }
            if let max = m.maxValues, max < 1 || m.valueType != .string {
                throw .invalid("`\(m.keyPath)`: max_values must be positive and is only for string metrics")
            }
            guard !m.periods.isEmpty else { throw .invalid("`\(m.keyPath)`: periods must not be empty") }
            if let since = m.sinceVersion, MetricDefinition.majorMinor(since) == nil {
                throw .invalid("`\(m.keyPath)`: since_version must be MAJOR.MINOR, e.g. 16.5 (got \(since))")
            }
        }
        self.metrics = metrics
    }

    /// Parses and checks a catalog document.
    public init(json: [UInt8]) throws(CatalogError) {
        let file: CatalogFile
        do {
            file = try JSONDecoder().decode(CatalogFile.self, from: Data(json))
        } catch {
            throw .invalid("the catalog is not valid: \(DecodingProblem.describe(error))")
        }
        try self.init(metrics: file.metrics)
    }

    public func metric(_ keyPath: String) -> MetricDefinition? { metrics.first { $0.keyPath == keyPath } }

    /// Every key path the extractor must capture: metrics and the paths their conditions read.
    public var capturedKeyPaths: [String] {
        var paths: [String] = []
        for m in metrics {
            if !paths.contains(m.keyPath) { paths.append(m.keyPath) }
            for c in m.allConditions where !paths.contains(c.keyPath) { paths.append(c.keyPath) }
        }
        return paths
    }

    /// The catalog as pretty JSON, as `pingroll catalog --json` prints it.
    public func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(CatalogFile(metrics: metrics))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

struct CatalogFile: Codable {
    var metrics: [MetricDefinition]
}

public enum CatalogError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case unreadable(path: String)

    public var description: String {
        switch self {
        case .invalid(let why): "invalid metric catalog: \(why)"
        case .unreadable(let path): "cannot read the metric catalog at \(path)"
        }
    }
}

public enum MetricValueType: String, Codable, Sendable, CaseIterable {
    case boolean, number, string

    /// The cells a series point counts for this type, in order; JSON members and CSV columns
    /// carry their names.
    public var pointCells: [Cell] {
        switch self {
        case .boolean: [.true, .false, .unknown, .notCollected]
        case .number: [.reporting, .failed, .unknown, .outOfRange, .notCollected]
        case .string: [.failed, .unknown, .notCollected]
        }
    }

    /// The figures a point derives from its cells: ratio; sum and estimated quantiles; counts per value.
    public var pointFigures: [String] {
        switch self {
        case .boolean: ["ratio", "ci_low", "ci_high"]
        case .number: ["sum", "p50", "p90", "p99"]
        case .string: ["values"]
        }
    }

    /// Every member of a point of this type: what a dashboard panel may plot.
    public var pointMembers: [String] { ["installations"] + pointCells.map(\.rawValue) + [SeriesPoint.notEligibleCell] + pointFigures }
}

/// One tracked metric.
public struct MetricDefinition: Codable, Sendable, Equatable {
    public var keyPath: String
    public var valueType: MetricValueType
    public var description: String
    /// The periods it is rolled up for (default: day, week and month).
    public var periods: [PeriodKind]
    /// Conditions on other key paths that must all hold for the value to mean something;
    /// otherwise the value counts as unknown.
    public var when: [MetricCondition]?
    /// Boolean metrics: further conditions for a `true` value, and for a `false` value, to count
    /// (a value that meets `when` but not its own list is unknown). A rule can then trust one
    /// value more than the other, as GitLab's `db_enabled` needs: only GitLab's registry reports
    /// `true`, while `false` is also GitLab's default when it could not ask.
    public var whenTrue: [MetricCondition]?
    public var whenFalse: [MetricCondition]?
    /// For string metrics: how many distinct values get their own count; later ones count as `other`.
    public var maxValues: Int?
    /// GitLab's `data_category` of the metric. An installation whose
    /// `settings.collected_data_categories` lacks it and that does not send the metric counts as
    /// `not_collected` (it cannot report it) instead of `unknown`.
    public var dataCategory: DataCategory?
    /// The GitLab `major.minor` that first sends the metric (GitLab's `milestone`): an
    /// installation on an older version cannot report it, and its unknowns are `not_eligible`.
    /// Not part of `definitionText`: it changes no cell.
    public var sinceVersion: String?

    /// `sinceVersion` as numbers.
    public var since: (major: Int, minor: Int)? { sinceVersion.flatMap(Self.majorMinor) }

    /// `16.5` → (16, 5); nil for anything else (`unknown`, `16`, `16.5.1`).
    public static func majorMinor(_ text: String) -> (major: Int, minor: Int)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...4).contains($0.utf8.count) && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        return (major, minor)
    }

    /// Whether a rollup tuple's `version` (`major.minor`, or `unknown`) is older than `sinceVersion`.
    public func isBeforeSince(_ version: String) -> Bool {
        guard let since, let v = Self.majorMinor(version) else { return false }
        return v.major < since.major || (v.major == since.major && v.minor < since.minor)
    }

    /// Every condition of the metric, whatever the value.
    public var allConditions: [MetricCondition] { (when ?? []) + (whenTrue ?? []) + (whenFalse ?? []) }

    /// The conditions a boolean value `value` must also meet.
    public func conditions(for value: Bool) -> [MetricCondition] { (value ? whenTrue : whenFalse) ?? [] }

    public static let defaultMaxValues = 100

    enum CodingKeys: String, CodingKey {
        case keyPath = "key_path", valueType = "value_type", description, periods, when, whenTrue = "when_true", whenFalse = "when_false"
        case maxValues = "max_values", dataCategory = "data_category", sinceVersion = "since_version"
    }

    public init(keyPath: String, valueType: MetricValueType, description: String = "",
                periods: [PeriodKind] = PeriodKind.allCases, when: [MetricCondition]? = nil, whenTrue: [MetricCondition]? = nil,
                whenFalse: [MetricCondition]? = nil, maxValues: Int? = nil, dataCategory: DataCategory? = nil, sinceVersion: String? = nil) {
        self.keyPath = keyPath
        self.valueType = valueType
        self.description = description
        self.periods = periods
        self.when = when
        self.whenTrue = whenTrue
        self.whenFalse = whenFalse
        self.maxValues = maxValues
        self.dataCategory = dataCategory
        self.sinceVersion = sinceVersion
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keyPath = try c.decode(String.self, forKey: .keyPath)
        valueType = try c.decode(MetricValueType.self, forKey: .valueType)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        periods = try c.decodeIfPresent([PeriodKind].self, forKey: .periods) ?? PeriodKind.allCases
        when = try c.decodeIfPresent([MetricCondition].self, forKey: .when)
        whenTrue = try c.decodeIfPresent([MetricCondition].self, forKey: .whenTrue)
        whenFalse = try c.decodeIfPresent([MetricCondition].self, forKey: .whenFalse)
        maxValues = try c.decodeIfPresent(Int.self, forKey: .maxValues)
        dataCategory = try c.decodeIfPresent(DataCategory.self, forKey: .dataCategory)
        sinceVersion = try c.decodeIfPresent(String.self, forKey: .sinceVersion)
    }

    public var effectiveMaxValues: Int { maxValues ?? Self.defaultMaxValues }

    /// A canonical text of what determines this metric's rollups (not its description): when it
    /// changes, the stored rollups of the metric are stale until rebuilt.
    public var definitionText: String {
        func text(_ list: [MetricCondition]?) -> String { (list ?? []).map { "\($0.keyPath)=\($0.equals.canonical)" }.joined(separator: "&") }
        var definition = "\(valueType.rawValue)|\(periods.map(\.rawValue).joined(separator: ","))|\(text(when))|\(valueType == .string ? effectiveMaxValues : 0)"
        // Only metrics with value conditions get these fields, so other definitions never change.
        if whenTrue != nil || whenFalse != nil { definition += "|T:\(text(whenTrue))|F:\(text(whenFalse))" }
        if let dataCategory { definition += "|C:\(dataCategory.rawValue)" }
        return definition
    }

    static func isValidKeyPath(_ path: String) -> Bool {
        let segments = path.split(separator: ".", omittingEmptySubsequences: false)
        return !segments.isEmpty && segments.allSatisfy { s in
            !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }
        }
    }
}

/// `{"key_path": "...", "equals": true | "text" | 3}`.
public struct MetricCondition: Codable, Sendable, Equatable {
    public var keyPath: String
    public var equals: ConditionValue

    enum CodingKeys: String, CodingKey { case keyPath = "key_path", equals }

    public init(keyPath: String, equals: ConditionValue) {
        self.keyPath = keyPath
        self.equals = equals
    }

    /// Whether the captured value satisfies the condition (a missing value never does).
    public func holds(for value: CapturedValue?) -> Bool {
        switch (equals, value) {
        case (.bool(let want), .bool(let got)?): want == got
        case (.string(let want), .string(let got)?): want == got
        case (.number(let want), .number(let got)?): got.double == want
        default: false
        }
    }
}

public enum ConditionValue: Codable, Sendable, Equatable {
    case bool(Bool), string(String), number(Double)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let s = try? c.decode(String.self) { self = .string(s) } else { self = .number(try c.decode(Double.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .string(let s): try c.encode(s)
        case .number(let n): try c.encode(n)
        }
    }

    var canonical: String {
        switch self {
        case .bool(let b): "b:\(b)"
        case .string(let s): "s:\(s)"
        case .number(let n): "n:\(n)"
        }
    }
}
