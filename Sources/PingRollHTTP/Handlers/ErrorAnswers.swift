import Logging
import PingRollCore
import PingRollService

/// The one mapping from what a handler throws to its answer, used by the responder and by every
/// controller: an `HTTPError` as it is, a bad parameter 400, an invalid field 422, any other
/// `StatusError` with its own status, a storage failure 503/500 (see `storageFailure`),
/// anything else 500.
struct ErrorAnswers: Sendable {
    let logger: Logger
    let logLimiter: LogLimiter
    let retryAfterSeconds: Int

    func response(_ error: any Error) -> HTTPResponse {
        switch error {
        case let e as HTTPError: e.response
        case let e as QueryError: HTTPError(400, "invalid_parameter", e.description).response
        case let e as EnrollmentError:
            if let allowed = e.allowed {
                HTTPError(409, "invalid_transition", e.description, allowed: allowed.map(\.rawValue)).response
            } else {
                HTTPError(422, "invalid_field", e.description).response
            }
        case let e as FieldError: HTTPError(422, "invalid_field", e.description).response
        case let e as any StatusError: HTTPError(e.status, e.code, e.message).response
        case let e as StorageError: storageFailure(e).response
        default: HTTPError(500, "internal", "unexpected error").response
        }
    }

    /// The answer for a storage failure: its kind and value-free reason; the backend's full
    /// message (`debugDetail`) goes to the log only.
    func storageFailure(_ error: StorageError) -> HTTPError {
        let (admitted, suppressed) = logLimiter.admit("storage failure")
        if admitted {
            logger.error("storage failure", metadata: ["error": "\(error)", "detail": "\(error.debugDetail ?? "-")",
                                                       "similar_lines_suppressed": "\(suppressed)"])
        }
        if error.isTransient {
            return HTTPError(503, error.kind == .overloaded ? "overloaded" : "unavailable",
                             "the ping could not be stored right now (\(error.kind.rawValue)); retry later",
                             headers: [("Retry-After", "\(retryAfterSeconds)")])
        }
        return HTTPError(500, "storage_error", "the ping could not be stored: \(error.reason)")
    }
}
