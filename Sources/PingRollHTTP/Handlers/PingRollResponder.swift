import Dispatch
import Logging
import PingRollCore
import PingRollService
import Synchronization

/// pingroll's HTTP surface: ingest routes, the manual upload page, health and readiness.
public final class PingRollResponder: HTTPResponder {
    /// The use cases behind the routes: routes never reach storage but through them.
    let services: PingRollServices
    let limits: IngestLimits
    let logger: Logger
    /// The ingest path, made with the catalog in use (replaced by a catalog reload).
    public var intake: PingIntake { services.ingest.intake }
    /// Reads the catalog file again (`POST /api/v1/catalog/reload`, SIGHUP); nil: not offered.
    let catalogSource: (@Sendable () throws -> MetricCatalog)?
    let ui: UIConfiguration?
    let router: Router
    let logLimiter = LogLimiter(burst: 20, windowSeconds: 10)
    let metrics: PingRollMetrics?
    /// Who may read `/metrics`; empty: anyone.
    let metricsAllowed: [ClientNetwork]
    /// Where the access log goes (one line per answer); nil: no access log.
    let accessLog: Logger?
    /// What the ingest routes allow per client address; nil: no limit.
    let ingestLimiter: RateLimiter?
    /// Who may use the ingest routes; empty: anyone.
    let ingestAllowed: [ClientNetwork]
    /// `serve --pull-config`'s pulls, whose status `GET /api/v1/pulls` shows.
    let pulls: ScheduledPulls?
    /// Where every route but the ingest ones runs; nil: on the calling thread (tests without a server).
    let apiLane: APILane?
    /// The job lane: long operations started over HTTP run there.
    public var jobs: Jobs { services.jobs }

    public init(services: PingRollServices, ui: UIConfiguration? = nil,
                logger: Logger, metrics: PingRollMetrics? = nil, metricsAllowed: [ClientNetwork] = [], accessLog: Logger? = nil,
                ingestLimiter: RateLimiter? = nil, ingestAllowed: [ClientNetwork] = [], pulls: ScheduledPulls? = nil,
                catalogSource: (@Sendable () throws -> MetricCatalog)? = nil, apiLane: APILaneLimits? = nil) {
        self.catalogSource = catalogSource
        self.services = services
        let limits = services.ingest.limits
        self.apiLane = apiLane.map { APILane(workers: $0.workers, maxQueued: $0.maxQueued, timeoutSeconds: $0.timeoutSeconds) }
        self.pulls = pulls
        self.ingestLimiter = ingestLimiter
        self.ingestAllowed = ingestAllowed
        self.ui = ui
        self.limits = limits
        self.logger = logger
        self.metrics = metrics
        self.metricsAllowed = metricsAllowed
        self.accessLog = accessLog
        router = Self.makeRouter(limits, metrics: metrics != nil)
    }

    private static func makeRouter(_ limits: IngestLimits, metrics: Bool) -> Router {
        var r = Router()
        let ingestBody = limits.maxBodyBytes, small = limits.maxOtherBodyBytes
        // The ingest lane: the routes GitLab instances and the upload form post to (they hand
        // their work to the group committer and answer when it lands), and health checks.
        r.add("POST", "/usage_data", Route(maxBodyBytes: ingestBody, requiresLength: true, quarantinesRejections: true) {
            $0.handleUsageData($1, $2)
        }.on(.ingest))
        r.add("POST", "/usage_ping_errors", Route(maxBodyBytes: ingestBody, requiresLength: true, quarantinesRejections: true) {
            $0.handleClientReport(.error, $1, $2)
        }.on(.ingest))
        r.add("POST", "/usage_ping_metadata", Route(maxBodyBytes: ingestBody, requiresLength: true, quarantinesRejections: true) {
            $0.handleClientReport(.metadata, $1, $2)
        }.on(.ingest))
        r.add("GET", "/usage_data/new", Route(maxBodyBytes: small, requiresLength: false, errorStyle: .html) { _, _, done in
            done(UploadPage.form())
        }.on(.ingest))
        r.add("POST", "/usage_data/new", Route(maxBodyBytes: ingestBody, requiresLength: true, errorStyle: .html, quarantinesRejections: true) {
            $0.handleUpload($1, $2)
        }.on(.ingest))
        r.add("GET", "/healthz", Route(maxBodyBytes: small, requiresLength: false) { _, _, done in
            done(.json(200, StatusBody("ok")))
        }.on(.ingest))
        r.add("GET", "/readyz", Route(maxBodyBytes: small, requiresLength: false) { responder, _, done in
            done(responder.readiness())
        }.on(.ingest))
        if metrics {
            r.add("GET", "/metrics", Route(maxBodyBytes: small, requiresLength: false, queryParameters: []) { responder, request, done in
                done(responder.metricsExposition(request.head))
            })
        }
        addAPIRoutes(to: &r, limits: limits)
        addAdminRoutes(to: &r, limits: limits)
        addRetentionRoutes(to: &r, limits: limits)
        addJobRoutes(to: &r, limits: limits)
        addInstrumentationRoutes(to: &r, limits: limits)
        addInstallationRoutes(to: &r, limits: limits)
        addIngestHealthRoute(to: &r, limits: limits)
        addRetryRoute(to: &r, limits: limits)
        addUIRoutes(to: &r, limits: limits)
        addBetaRoutes(to: &r, limits: limits)
        return r
    }

    // MARK: HTTPResponder

    /// What `head` decided for a request: its route and the caller's token.
    struct Routed: Sendable {
        let route: Route
        let parameters: [String: String]
        let token: TokenInfo?
    }

    /// Routes and authorizes a request from its head alone, once: API requests are authorized
    /// before anything else (so 401 wins over 404/405 and no body is read for a caller without a
    /// valid token), then the route's own rules apply (411, the role's 403, query parameters)
    /// and its body limit.
    func resolve(_ head: HTTPRequestHead) -> Result<Routed, HTTPError> {
        let match = router.match(head)
        var route: Route?
        if case .route(let r, _) = match { route = r }
        let token: TokenInfo?
        switch authorize(head, route: route) {
        case .failure(let denied): return .failure(denied)
        case .success(let t): token = t
        }
        switch match {
        case .error(let error): return .failure(error)
        case .route(let route, let parameters):
            if let unknown = route.unknownQueryParameter(in: head) {
                return .failure(HTTPError(400, "invalid_parameter",
                                          "`\(unknown)` is not a parameter of \(head.method) \(head.path); it takes "
                                            + (route.queryParameters?.sorted().map { "`\($0)`" }.joined(separator: ", ") ?? "none")))
            }
            if route.quarantinesRejections, let refusal = ingestRefusal(head) { return .failure(refusal) }
            return .success(Routed(route: route, parameters: parameters, token: token))
        }
    }

    /// The ingest routes' network allow-list and per-address rate limit, decided from the head
    /// (no body is read for a refused request, and nothing is quarantined: the client did
    /// nothing wrong and retries).
    func ingestRefusal(_ head: HTTPRequestHead) -> HTTPError? {
        if !ingestAllowed.admits(head.remoteAddress) {
            return HTTPError(403, "forbidden", "this client address may not post to pingroll (see --ingest-allow)")
        }
        if let ingestLimiter, let wait = ingestLimiter.admit(head.remoteAddress ?? "", now: Double(Timestamp.now().milliseconds) / 1000) {
            return HTTPError(429, "rate_limited", "more than \(ingestLimiter.perMinute) requests a minute from this address; retry in \(wait) s",
                             headers: [("Retry-After", "\(wait)")])
        }
        return nil
    }

    /// The decision `head` attached, or (for a caller that attached none) the same decision made now.
    func decision(_ head: HTTPRequestHead, _ attachment: (any Sendable)?) -> Result<Routed, HTTPError> {
        (attachment as? Routed).map(Result.success) ?? resolve(head)
    }

    public func head(_ head: HTTPRequestHead) -> HeadDecision {
        switch resolve(head) {
        case .failure(let error): return .respond(finished(head, error.response))
        case .success(let routed): return .readBody(maxBytes: routed.route.maxBodyBytes, attachment: routed)
        }
    }

    public func bodyTooLarge(_ head: HTTPRequestHead, firstBytes: [UInt8], attachment: (any Sendable)?) -> HTTPResponse {
        let routed: Routed
        switch decision(head, attachment) {
        case .failure(let error): return finished(head, error.response)
        case .success(let r): routed = r
        }
        let route = routed.route
        let error = HTTPError(413, "payload_too_large", "the body is larger than \(route.maxBodyBytes) bytes")
        if route.quarantinesRejections {
            countRejection(head, error)
            // Answer at once; the quarantine entry is written behind the reply.
            services.ingest.quarantine(quarantineRecord(head, error, body: firstBytes, bodySize: head.contentLength ?? firstBytes.count)) { _ in }
        }
        var response = finished(head, route.errorStyle == .html ? UploadPage.result(.failure(error)) : error.response)
        response.route = route.template
        return response
    }

    public func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let head = request.head
        let routed: Routed
        switch decision(head, request.attachment) {
        case .failure(let error): return completion(finished(head, error.response))
        case .success(let r): routed = r
        }
        var request = request
        request.tokenName = routed.token?.name
        request.role = routed.token?.role
        request.pathParameters = routed.parameters
        let route = routed.route
        // Every answer, whoever gives it, is finished the same way.
        let answer: @Sendable (HTTPResponse) -> Void = { [self] response in
            var response = finished(head, response)
            response.route = route.template
            completion(response)
        }
        guard route.lane == .api, let apiLane else { return route.handler(self, request, answer) }
        // The API lane: a worker answers, within the time budget; the server thread goes on.
        let ticket = APILane.Ticket()
        let lanedRequest = request
        let accepted = apiLane.submit(ticket) { [self] in
            route.handler(self, lanedRequest) { response in if ticket.claim() { answer(response) } }
        }
        guard accepted else {
            return answer(HTTPError(503, "overloaded", "too many API requests are waiting; retry later",
                                    headers: [("Retry-After", "\(limits.retryAfterSeconds)")]).response)
        }
        // (A timer per request, which does nothing if the handler answered first.)
        DispatchQueue.global().asyncAfter(deadline: .now() + apiLane.timeoutSeconds) { [limits] in
            guard ticket.claim() else { return }
            answer(HTTPError(503, "timeout", "the request took longer than \(Self.seconds(apiLane.timeoutSeconds)) s (--api-request-timeout); it was stopped",
                             headers: [("Retry-After", "\(limits.retryAfterSeconds)")]).response)
        }
    }

    static func seconds(_ s: Double) -> String { s == s.rounded() ? String(Int(s)) : String(s) }

    public func completed(_ exchange: HTTPExchange) {
        let route = exchange.route ?? "unmatched"
        metrics?.request(route: route, status: exchange.status, duration: exchange.duration)
        guard let accessLog else { return }
        // Only values pingroll chose or parsed: the route template, never the raw path.
        let method = Self.methods.contains(exchange.method) ? exchange.method : "other"
        let (seconds, attoseconds) = exchange.duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        accessLog.info("request", metadata: ["method": "\(method)", "route": "\(route)", "status": "\(exchange.status)",
                                             "bytes": "\(exchange.bytes.map(String.init) ?? "-")",
                                             "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
                                             "remote": "\(exchange.remoteAddress ?? "-")"])
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// `GET /metrics`: for any client unless `--metrics-allow` lists networks.
    func metricsExposition(_ head: HTTPRequestHead) -> HTTPResponse {
        guard let metrics else { return HTTPError(404, "not_found", "no route for \(head.path)").response }
        guard metricsAllowed.admits(head.remoteAddress) else {
            return HTTPError(403, "forbidden", "this client address may not read /metrics (see --metrics-allow)").response
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                            body: metrics.exposition(services.ingest))
    }

    /// A rejected ping (not a client report) in the metrics.
    func countRejection(_ head: HTTPRequestHead, _ error: HTTPError) {
        if head.path == "/usage_data" || head.path == "/usage_data/new" { metrics?.rejected(reason: error.code) }
    }

    /// Every API answer, errors included, says its charset.
    func finished(_ head: HTTPRequestHead, _ response: HTTPResponse) -> HTTPResponse {
        guard head.path.hasPrefix(Self.apiPrefix) else { return response }
        var r = response
        r.headers = r.headers.map { $0.0 == "Content-Type" && $0.1 == "application/json" ? ($0.0, "application/json; charset=utf-8") : $0 }
        return r
    }

    /// Heads the server refused before routing are quarantined like any rejected request
    /// (the head is the body kept), without waiting.
    public func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?) {
        let path = String(target.prefix { $0 != "?" })
        let head = HTTPRequestHead(method: "-", path: path.isEmpty ? "-" : path, remoteAddress: remoteAddress)
        // The head is kept as received but for its secrets: credential headers and parameters are masked.
        reject(head, body: Redaction.head(rawHead), decoded: true, error) { _ in }
    }

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

/// What a catalog reload did.
public struct CatalogReload: Sendable {
    public var metrics: Int
    /// Metrics new or changed while pings exist: not maintained until `rollup rebuild`.
    public var stale: [String]
    public var dashboards: Int
}

extension PingRollResponder {
    /// Serves with `catalog` from now on: checks the dashboards against it first (nothing
    /// changes if one no longer fits), then the store (which prepares the rollups), the ingest
    /// path and the dashboards take it.
    public func useCatalog(_ catalog: MetricCatalog) throws -> CatalogReload {
        if let ui {
            do throws(DashboardStore.Failure) { try ui.store.check(against: catalog) } catch {
                throw HTTPError(422, "invalid_catalog", "the dashboards do not fit the new catalog (\(error.description)); the catalog in use is kept")
            }
        }
        let stale = try services.useCatalog(catalog)
        let dashboards = try ui.map { ui throws in try ui.store.reload(catalog: catalog).count } ?? 0
        return CatalogReload(metrics: catalog.metrics.count, stale: stale, dashboards: dashboards)
    }

    /// Reads the catalog file again and uses it (`POST /api/v1/catalog/reload`, SIGHUP).
    public func reloadCatalog() throws -> CatalogReload {
        guard let catalogSource else { throw HTTPError(503, "unavailable", "this pingroll cannot reload its catalog") }
        let catalog: MetricCatalog
        do { catalog = try catalogSource() } catch {
            throw HTTPError(422, "invalid_catalog", "\(error); the catalog in use is kept")
        }
        return try useCatalog(catalog)
    }
}
