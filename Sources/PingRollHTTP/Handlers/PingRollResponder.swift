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
    /// The ingest lane's routes and the quarantine of what any route refuses before routing.
    let ingestLane: IngestController
    /// The one mapping from an error to its answer.
    let errors: ErrorAnswers
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
                presentation: SeriesPresentation = SeriesPresentation(), catalogSource: (@Sendable () throws -> MetricCatalog)? = nil, apiLane: APILaneLimits? = nil) {
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
        errors = ErrorAnswers(logger: logger, logLimiter: logLimiter, retryAfterSeconds: limits.retryAfterSeconds)
        ingestLane = IngestController(service: services.ingest, admin: services.admin, limits: limits, metrics: metrics, logger: logger,
                                      logLimiter: logLimiter, errors: errors)
        router = Self.makeRouter(limits, metrics: metrics != nil, services: services, pulls: pulls, presentation: presentation,
                                 ingest: ingestLane, logger: logger)
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
            ingestLane.countRejection(head, error)
            // Answer at once; the quarantine entry is written behind the reply.
            services.ingest.quarantine(ingestLane.quarantineRecord(head, error, body: firstBytes, bodySize: head.contentLength ?? firstBytes.count)) { _ in }
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
        request.declaredQuery = routed.route.queryParameters
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


}
