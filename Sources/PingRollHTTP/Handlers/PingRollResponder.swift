import Logging
import PingRollCore
import PingRollStore

/// pingroll's HTTP surface: ingest routes, the manual upload page, health and readiness.
public final class PingRollResponder: HTTPResponder {
    let store: any PingStore
    let committer: GroupCommitter
    let limits: IngestLimits
    let logger: Logger
    let extractor: PayloadExtractor
    let ui: UIConfiguration?
    let router: Router
    let logLimiter = LogLimiter(burst: 20, windowSeconds: 10)

    public init(store: any PingStore, committer: GroupCommitter, limits: IngestLimits = IngestLimits(), ui: UIConfiguration? = nil,
                logger: Logger) {
        self.ui = ui
        self.store = store
        self.committer = committer
        self.limits = limits
        self.logger = logger
        self.extractor = PayloadExtractor(maxDepth: limits.maxDepth, catalog: store.catalog)
        router = Self.makeRouter(limits)
    }

    private static func makeRouter(_ limits: IngestLimits) -> Router {
        var r = Router()
        let ingestBody = limits.maxBodyBytes, small = limits.maxOtherBodyBytes
        r.add("POST", "/usage_data", Route(maxBodyBytes: ingestBody, requiresLength: true) { $0.handleUsageData($1, $2) })
        r.add("POST", "/usage_ping_errors", Route(maxBodyBytes: ingestBody, requiresLength: true) { $0.handleClientReport(.error, $1, $2) })
        r.add("POST", "/usage_ping_metadata", Route(maxBodyBytes: ingestBody, requiresLength: true) { $0.handleClientReport(.metadata, $1, $2) })
        r.add("GET", "/usage_data/new", Route(maxBodyBytes: small, requiresLength: false, errorStyle: .html) { _, _, done in
            done(UploadPage.form())
        })
        r.add("POST", "/usage_data/new", Route(maxBodyBytes: ingestBody, requiresLength: true, errorStyle: .html) { $0.handleUpload($1, $2) })
        r.add("GET", "/healthz", Route(maxBodyBytes: small, requiresLength: false) { _, _, done in
            done(.json(200, #"{"status":"ok"}"#))
        })
        r.add("GET", "/readyz", Route(maxBodyBytes: small, requiresLength: false) { responder, _, done in
            done(responder.readiness())
        })
        addAPIRoutes(to: &r, limits: limits)
        addAdminRoutes(to: &r, limits: limits)
        addInstallationRoutes(to: &r, limits: limits)
        addIngestHealthRoute(to: &r, limits: limits)
        addRetryRoute(to: &r, limits: limits)
        addUIRoutes(to: &r, limits: limits)
        addBetaRoutes(to: &r, limits: limits)
        return r
    }

    // MARK: HTTPResponder

    public func head(_ head: HTTPRequestHead) -> HeadDecision {
        // API requests are authorized once their (small) body is in, so 401 wins over 404/405.
        if head.path.hasPrefix(Self.apiPrefix) { return .readBody(maxBytes: limits.maxOtherBodyBytes) }
        switch router.match(head) {
        case .error(let error): return .respond(error.response)
        case .route(let route): return .readBody(maxBytes: route.maxBodyBytes)
        }
    }

    public func bodyTooLarge(_ head: HTTPRequestHead, firstBytes: [UInt8]) -> HTTPResponse {
        guard case .route(let route) = router.match(head) else { return HTTPError.notFound(head.path).response }
        let error = HTTPError(413, "payload_too_large", "the body is larger than \(route.maxBodyBytes) bytes")
        if route.maxBodyBytes == limits.maxBodyBytes {
            // Answer at once; the quarantine entry is written behind the reply.
            committer.submit(.quarantine(quarantineRecord(head, error, body: firstBytes,
                                                          bodySize: head.contentLength ?? firstBytes.count))) { _ in }
        }
        return route.errorStyle == .html ? UploadPage.result(.failure(error)) : error.response
    }

    public func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        var completion = completion
        if request.head.path.hasPrefix(Self.apiPrefix) {
            // Every API answer, errors included, says its charset.
            let done = completion
            completion = { response in
                var r = response
                r.headers = r.headers.map { $0.0 == "Content-Type" && $0.1 == "application/json" ? ($0.0, "application/json; charset=utf-8") : $0 }
                done(r)
            }
        }
        let match = router.match(request.head)
        var route: Route?
        if case .route(let r) = match { route = r }
        var request = request
        switch authorize(request.head, route: route) {
        case .failure(let denied): return completion(denied.response)
        case .success(let token):
            request.tokenName = token?.name
            request.role = token?.role
        }
        switch match {
        case .error(let error): completion(error.response)
        case .route(let route): route.handler(self, request, completion)
        }
    }

    /// Heads the server refused before routing are quarantined like any rejected request
    /// (the head is the body kept), without waiting.
    public func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?) {
        let path = String(target.prefix { $0 != "?" })
        let head = HTTPRequestHead(method: "-", path: path.isEmpty ? "-" : path, remoteAddress: remoteAddress)
        reject(head, body: rawHead, decoded: true, error) { _ in }
    }

    // MARK: Health

    func readiness() -> HTTPResponse {
        do {
            try store.checkReadiness()
            if let failure = committer.recentWriteFailure() {
                return HTTPError(503, "not_ready", "the database does not take writes: \(failure)",
                                 headers: [("Retry-After", "\(limits.retryAfterSeconds)")]).response
            }
            return .json(200, #"{"status":"ready"}"#)
        } catch {
            logger.warning("not ready", metadata: ["error": "\(error)"])
            return HTTPError(503, "not_ready", "the database is not reachable: \(error.reason)",
                             headers: [("Retry-After", "\(limits.retryAfterSeconds)")]).response
        }
    }

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
        let (admitted, suppressed) = logLimiter.admit("rejected")
        if admitted {
            logger.info("rejected a request", metadata: ["path": "\(head.path)", "status": "\(error.status)", "code": "\(error.code)",
                                                         "remote": "\(head.remoteAddress ?? "-")", "similar_lines_suppressed": "\(suppressed)"])
        }
        committer.submit(.quarantine(quarantineRecord(head, error, body: body, bodySize: body.count, decoded: decoded))) { [logger, logLimiter] result in
            if case .failure(let storageError) = result {
                let (admitted, suppressed) = logLimiter.admit("quarantine failed")
                if admitted {
                    logger.error("could not quarantine a rejected body", metadata: ["error": "\(storageError)",
                                                                                   "similar_lines_suppressed": "\(suppressed)"])
                }
            }
            done(error)
        }
    }

    func storageFailure(_ error: StorageError) -> HTTPError {
        if error.isTransient {
            return HTTPError(503, error.kind == .overloaded ? "overloaded" : "unavailable",
                             "the ping could not be stored right now (\(error.kind.rawValue)); retry later",
                             headers: [("Retry-After", "\(limits.retryAfterSeconds)")])
        }
        return HTTPError(500, "storage_error", "the ping could not be stored: \(error.reason)")
    }
}
