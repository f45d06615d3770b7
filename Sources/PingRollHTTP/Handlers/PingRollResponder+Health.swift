import Logging
import PingRollCore
import PingRollService

extension PingRollResponder {
    // MARK: Health

    func readiness() -> HTTPResponse {
        do {
            try services.ingest.checkReadiness()
            if let failure = services.ingest.recentWriteFailure() {
                return HTTPError(503, "not_ready", "the database does not take writes: \(failure)",
                                 headers: [("Retry-After", "\(limits.retryAfterSeconds)")]).response
            }
            return .json(200, StatusBody("ready"))
        } catch {
            logger.warning("not ready", metadata: ["error": "\(error)"])
            return HTTPError(503, "not_ready", "the database is not reachable: \(error.reason)",
                             headers: [("Retry-After", "\(limits.retryAfterSeconds)")]).response
        }
    }
}
