/// A note on the time axis that explains a jump in a chart: written by a person (`manual`), or
/// by pingroll itself, once each (a new GitLab release, a catalog change, a gap in ingest, a
/// retention run, a history import).
public struct Annotation: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case manual, release, catalog
        case ingestGap = "ingest_gap"
        case retention, `import`
    }

    public var id: Int64
    public var at: Timestamp
    public var kind: Kind
    public var text: String
    /// The metric it concerns; nil: all.
    public var metric: String?

    public var auto: Bool { kind != .manual }

    public static let maxTextCharacters = 500

    public init(id: Int64 = 0, at: Timestamp, kind: Kind, text: String, metric: String?) {
        self.id = id
        self.at = at
        self.kind = kind
        self.text = text
        self.metric = metric
    }
}
