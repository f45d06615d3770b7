import Logging
import PingRollCore
import PingRollService

extension PingRollResponder {
    // MARK: Quarantine

    /// - Parameter decoded: the body is already without its `Content-Encoding` (so none is recorded).
    func quarantineRecord(_ head: HTTPRequestHead, _ error: HTTPError, body: [UInt8], bodySize: Int,
                          decoded: Bool = false) -> QuarantineRecord {
        QuarantineRecord(receivedAt: .now(), route: head.path, status: error.status, reason: error.code, message: error.message,
                         remoteAddress: head.remoteAddress, contentType: head.headers["Content-Type"],
                         contentEncoding: decoded ? nil : head.headers["Content-Encoding"], bodySize: bodySize, body: body)
    }

    /// Keeps a rejected body, then reports `error` once the quarantine entry is durable.
    func reject(_ head: HTTPRequestHead, body: [UInt8], decoded: Bool = false, _ error: HTTPError,
                then done: @escaping @Sendable (HTTPError) -> Void) {
        countRejection(head, error)
        let (admitted, suppressed) = logLimiter.admit("rejected")
        if admitted {
            logger.info("rejected a request", metadata: ["path": "\(head.path)", "status": "\(error.status)", "code": "\(error.code)",
                                                         "remote": "\(head.remoteAddress ?? "-")", "similar_lines_suppressed": "\(suppressed)"])
        }
        services.ingest.quarantine(quarantineRecord(head, error, body: body, bodySize: body.count, decoded: decoded)) { [logger, logLimiter] failure in
            if let storageError = failure {
                let (admitted, suppressed) = logLimiter.admit("quarantine failed")
                if admitted {
                    logger.error("could not quarantine a rejected body", metadata: ["error": "\(storageError)",
                                                                                   "similar_lines_suppressed": "\(suppressed)"])
                }
            }
            done(error)
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
                             headers: [("Retry-After", "\(limits.retryAfterSeconds)")])
        }
        return HTTPError(500, "storage_error", "the ping could not be stored: \(error.reason)")
    }
}
