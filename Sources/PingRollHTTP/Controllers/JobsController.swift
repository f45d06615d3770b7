import PingRollCore
import PingRollService

/// `/api/v1/jobs` and the routes that start one: a long operation answers `202 Accepted` with
/// `Location: /api/v1/jobs/{id}` and the job as it stands (a small input has often finished by
/// then). A caller sees, and may cancel, the jobs of the kinds its role may start.
struct JobsController: Controller {
    let jobs: Jobs
    let query: QueryService
    let admin: AdminService

    /// How long a route that starts a job waits for it before answering (a small input finishes first).
    static let jobSettleTime: Duration = .milliseconds(300)

    func register(_ r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/api/v1/jobs", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: ["limit"],
                                           answer: bind { controller, request in
            let limit = try request.limit(default: 50, max: 500)
            let kinds = Set(JobKind.allCases.filter { $0.role <= (request.role ?? .viewer) })
            return .json(200, JobListBody(try controller.jobs.jobs(kinds: kinds, limit: limit)))
        }))
        r.add("GET", "/api/v1/jobs/{id}", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: [],
                                                answer: bind { controller, request in .json(200, JobBody(try controller.visibleJob(request))) }))
        r.add("DELETE", "/api/v1/jobs/{id}", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: [],
                                                   answer: bind { controller, request in
            let job = try controller.visibleJob(request)
            guard let current = try controller.jobs.cancel(id: job.id) else { throw HTTPError(404, "not_found", "there is no job \(job.id)") }
            return .json(200, JobBody(current))
        }))
        r.add("POST", "/api/v1/rollups/rebuild", Route(maxBodyBytes: 4096, requiresLength: false, role: .admin, queryParameters: [],
                                                       answer: bind { try $0.startRebuild($1) }))
    }

    /// The job `{id}` names, if the caller's role may start its kind; otherwise 404 (as if there were none).
    func visibleJob(_ request: HTTPRequest) throws -> Job {
        let missing = "there is no job \(request.pathParameters["id"] ?? "")"
        let id = try request.path("id", as: Int64.self, notFound: missing)
        guard let job = try jobs.job(id: id), job.kind.role <= (request.role ?? .viewer) else { throw HTTPError(404, "not_found", missing) }
        return job
    }

    /// Starts `work` as a job and answers 202 with where to follow it.
    func startJob(_ kind: JobKind, _ request: HTTPRequest, subject: String, total: Int? = nil, _ work: @escaping Jobs.Work) throws -> HTTPResponse {
        let job = jobs.settle(try jobs.start(kind, by: request.tokenName ?? "", subject: subject, total: total, work), within: Self.jobSettleTime)
        var response = HTTPResponse.json(202, JobBody(job))
        response.headers.append(("Location", JobBody.location(job)))
        return response
    }

    /// `POST /api/v1/rollups/rebuild` with `{"metric": KEY}` (one catalog metric) or `{}` (all,
    /// and the installation counts).
    func startRebuild(_ request: HTTPRequest) throws -> HTTPResponse {
        var metric: String?
        if !request.body.isEmpty {
            if let refusal = BodyDecoding.checkJSONContentType(request.head.headers["Content-Type"]) { throw refusal }
            let (inputs, _) = try request.fieldInputs()
            for key in inputs.keys.sorted() where key != "metric" {
                throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` is not a field; send {\"metric\": KEY} or {}")
            }
            switch inputs["metric"] {
            case nil, .null?: break
            case .text(let key)?: metric = key
            default: throw HTTPError(422, "invalid_field", "`metric` must be a catalog metric's key path, or null for all")
            }
        }
        guard let catalog = query.catalog else { throw HTTPError(409, "no_catalog", "this pingroll keeps no rollups (no catalog)") }
        if let metric, catalog.metric(metric) == nil {
            throw HTTPError(422, "invalid_field", "`metric`: \(metric.replacingNUL()) is not in the catalog; GET /api/v1/metrics lists them")
        }
        return try jobs.accept(.rollupRebuild, request, subject: metric ?? "", admin.rebuildWork(metric: metric))
    }
}
