/// An error that carries its own answer: the HTTP status, a stable code and a message for the
/// caller. Routes map every such error the same way (no status is chosen by an error's text).
public protocol StatusError: Error, Sendable {
    var status: Int { get }
    var code: String { get }
    var message: String { get }
}

/// A refusal decided below the HTTP layer (a service's rule: not found, invalid parameter).
public struct ServiceError: StatusError, Equatable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String

    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ message: String) -> ServiceError { ServiceError(404, "not_found", message) }
    public static func invalidParameter(_ message: String) -> ServiceError { ServiceError(400, "invalid_parameter", message) }

    public var description: String { message }
}
