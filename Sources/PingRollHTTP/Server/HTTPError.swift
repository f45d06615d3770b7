import PingRollCore
import PingRollService

/// An error that knows its HTTP status and renders as pingroll's JSON error body
/// `{"error":{"code":"...","message":"..."}}`.
public struct HTTPError: StatusError, Equatable, CustomStringConvertible {
    public var status: Int
    /// A stable machine-readable code, e.g. `invalid_json`.
    public var code: String
    /// A sentence for humans saying what was wrong and what to send instead.
    public var message: String
    public var headers: [(String, String)]
    /// For an illegal status change: the statuses that are allowed (`error.allowed`).
    public var allowed: [String]?

    public init(_ status: Int, _ code: String, _ message: String, headers: [(String, String)] = [], allowed: [String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.allowed = allowed
    }

    public var response: HTTPResponse {
        .json(status, ErrorBody(code: code, message: message, allowed: allowed), headers: headers)
    }

    public var description: String { "\(status) \(code): \(message)" }

    public static func == (a: HTTPError, b: HTTPError) -> Bool {
        a.status == b.status && a.code == b.code && a.message == b.message
    }

    public static func notFound(_ path: String) -> HTTPError {
        HTTPError(404, "not_found", "there is no resource at \(path)")
    }

    public static func methodNotAllowed(_ method: String, allowed: [String]) -> HTTPError {
        HTTPError(405, "method_not_allowed", "\(method) is not allowed here; use \(allowed.joined(separator: " or "))",
                  headers: [("Allow", allowed.joined(separator: ", "))])
    }
}
