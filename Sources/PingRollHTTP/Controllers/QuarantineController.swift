import PingRollCore
import PingRollService

/// `/api/v1/quarantine` (admin) and `/api/v1/pulls` (viewer; details for admins).
struct QuarantineController: Controller {
    let admin: AdminService
    let pulls: ScheduledPulls?

    func register(_ r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/quarantine", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                 queryParameters: ["limit"], answer: bind { try $0.quarantineList($1) }))
        // Viewers see how the pulls go (the overview dashboard shows it); the instances' URLs and
        // the error texts, which name hosts and paths, only admins.
        r.add("GET", "/api/v1/pulls", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                            queryParameters: [], answer: bind { controller, request in
            .json(200, PullsBody(intervalSeconds: controller.pulls?.interval ?? 0, controller.pulls?.status ?? [], details: request.role == .admin))
        }))
    }

    /// `GET /api/v1/quarantine?limit=N`: the newest rejected bodies with why they were rejected.
    func quarantineList(_ request: HTTPRequest) throws -> HTTPResponse {
        let limit = try request.limit(default: 50, max: 1000)
        return .json(200, try admin.quarantineList(limit: limit))
    }
}
