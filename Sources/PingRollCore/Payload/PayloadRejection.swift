/// Why a body cannot be stored as a ping. Each case names a stable code that API clients and the
/// quarantine table see.
public enum PayloadRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not JSON at all (bad grammar, bad UTF-8, too deep).
    case invalidJSON(JSONScanError)
    /// Valid JSON whose top-level value is not an object.
    case notAnObject
    /// Valid JSON object without a required field, or with one that cannot be used.
    case invalidField(name: String, problem: String)
    /// `recorded_at` lies more than the allowed skew in the future.
    case recordedInFuture(recordedAt: Timestamp, now: Timestamp)

    public var code: String {
        switch self {
        case .invalidJSON(let e): e.kind == .tooDeep ? "too_deep" : "invalid_json"
        case .notAnObject: "not_an_object"
        case .invalidField: "invalid_field"
        case .recordedInFuture: "recorded_in_future"
        }
    }

    /// True for problems of form (the bytes are not a JSON object); false for problems of content.
    public var isMalformed: Bool {
        switch self {
        case .invalidJSON, .notAnObject: true
        case .invalidField, .recordedInFuture: false
        }
    }

    public var description: String {
        switch self {
        case .invalidJSON(let e): "\(e)"
        case .notAnObject: "the body must be a JSON object"
        case .invalidField(let name, let problem): "`\(name)` \(problem)"
        case .recordedInFuture(let at, let now):
            "`recorded_at` (\(at)) is more than 24 hours after the time it was received (\(now))"
        }
    }
}
