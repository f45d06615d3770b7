import FoundationEssentials

/// The beta program's records besides enrollments (see `Enrollment`), as the store keeps them.

/// A beta program.
public struct BetaProgram: Sendable, Equatable {
    public var slug: String
    public var name: String
    public var description: String?
    public var phases: [String]
    public var createdAt: Timestamp

    public init(slug: String, name: String, description: String?, phases: [String], createdAt: Timestamp = .now()) {
        self.slug = slug
        self.name = name
        self.description = description
        self.phases = phases
        self.createdAt = createdAt
    }
}

/// One change of an enrollment field.
public struct HistoryEntry: Sendable, Equatable {
    public var at: Timestamp
    public var tokenName: String
    public var field: String
    public var old: String?
    public var new: String?

    public init(at: Timestamp, tokenName: String, field: String, old: String?, new: String?) {
        self.at = at
        self.tokenName = tokenName
        self.field = field
        self.old = old
        self.new = new
    }
}

/// Feedback on a beta enrollment.
public struct Feedback: Sendable, Equatable {
    public static let categories = ["docs", "import", "performance", "bug", "feature", "other"]
    public static let maxText = 10_000

    public var id: Int64 = 0
    public var enrollmentID: Int64
    public var program: String
    public var category: String
    public var rating: Int
    public var text: String
    public var issueURL: String?
    public var at: Timestamp
    public var tokenName: String

    public init(enrollmentID: Int64, program: String, category: String, rating: Int, text: String, issueURL: String?,
                at: Timestamp, tokenName: String) {
        self.enrollmentID = enrollmentID
        self.program = program
        self.category = category
        self.rating = rating
        self.text = text
        self.issueURL = issueURL
        self.at = at
        self.tokenName = tokenName
    }
}

/// What one stored ping of an installation said about the metadata database, for timelines.
public struct PingDBFact: Sendable, Equatable {
    public var hostname: String
    public var recordedAt: Timestamp
    /// `container_registry_server.db_enabled` as the catalog rule reads it (nil: unknown).
    public var dbEnabled: Bool?

    public init(hostname: String, recordedAt: Timestamp, dbEnabled: Bool?) {
        self.hostname = hostname
        self.recordedAt = recordedAt
        self.dbEnabled = dbEnabled
    }
}

extension Feedback {
    /// Feedback from API field inputs on enrollment `x`, or the first field that is wrong.
    public init(_ x: Enrollment, _ inputs: [String: FieldInput], at: Timestamp, tokenName: String) throws(EnrollmentError) {
        for key in inputs.keys.sorted() where !["category", "rating", "text", "issue_url"].contains(key) {
            throw EnrollmentError(key, "is not a feedback field")
        }
        guard case .text(let category)? = inputs["category"], Self.categories.contains(category) else {
            throw EnrollmentError("category", "must be one of \(Self.categories.joined(separator: ", "))")
        }
        guard case .number(let r)? = inputs["rating"], r == r.rounded(), (1...5).contains(r) else {
            throw EnrollmentError("rating", "must be a whole number from 1 to 5")
        }
        guard case .text(let text)? = inputs["text"], text.hasVisibleCharacter else { throw EnrollmentError("text", "is required") }
        guard text.count <= Self.maxText else { throw EnrollmentError("text", "is longer than \(Self.maxText) characters") }
        var issueURL: String?
        switch inputs["issue_url"] {
        case nil, .null?: break
        case .text(let u)? where (u.hasPrefix("https://") || u.hasPrefix("http://")) && u.count <= 2000 && URL(string: u)?.host?.isEmpty == false:
            issueURL = u
        default: throw EnrollmentError("issue_url", "must be an http or https URL")
        }
        self.init(enrollmentID: x.id, program: x.program, category: category, rating: Int(r), text: text, issueURL: issueURL,
                  at: at, tokenName: tokenName)
    }
}
