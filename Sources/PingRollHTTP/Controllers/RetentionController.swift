import PingRollCore
import PingRollService

/// `/api/v1/retention` (admin): the daily policy, the latest runs, and a run on request.
struct RetentionController: Controller {
    let admin: AdminService
    let jobs: Jobs

    func register(_ r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/retention", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                queryParameters: [], answer: bind { controller, _ in
            .json(200, try controller.admin.retentionStatus())
        }))
        r.add("POST", "/api/v1/retention", Route(maxBodyBytes: 4096, requiresLength: false, role: .admin,
                                                 queryParameters: [], answer: bind { try $0.applyRetention($1) }))
    }

    /// `POST /api/v1/retention` with `{"payload_days": N, "report_days": M, "dry_run": true}`
    /// (each optional; without either period the configured daily policy applies). The run is a
    /// job (202); its result is what it removed.
    func applyRetention(_ request: HTTPRequest) throws -> HTTPResponse {
        var policy = RetentionPolicy()
        var dryRun = false
        if !request.body.isEmpty {
            if let refusal = BodyDecoding.checkJSONContentType(request.head.headers["Content-Type"]) { throw refusal }
            let (inputs, _) = try request.fieldInputs()
            for key in inputs.keys.sorted() where !["payload_days", "report_days", "dry_run"].contains(key) {
                throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` is not a field; send payload_days, report_days and dry_run")
            }
            func days(_ key: String) throws(HTTPError) -> Int? {
                switch inputs[key] {
                case nil, .null?: return nil
                case .number(let d)? where d.rounded() == d && Double(RetentionPolicy.dayRange.lowerBound) <= d && d <= Double(RetentionPolicy.dayRange.upperBound):
                    return Int(d)
                default: throw HTTPError(422, "invalid_field", "`\(key)` must be a whole number of days from 1 to \(RetentionPolicy.dayRange.upperBound), or null")
                }
            }
            policy = RetentionPolicy(payloadDays: try days("payload_days"), reportDays: try days("report_days"))
            switch inputs["dry_run"] {
            case nil, .null?: break
            case .bool(let b)?: dryRun = b
            default: throw HTTPError(422, "invalid_field", "`dry_run` must be true or false")
            }
        }
        if policy.isEmpty {
            guard let configured = admin.retention.policy else {
                // The body is well-formed; it is this server's state that leaves nothing to apply.
                throw HTTPError(409, "no_policy", "this pingroll applies no daily retention policy: give payload_days, report_days or both")
            }
            policy = configured
        }
        let subject = "payload_days=\(policy.payloadDays.map(String.init) ?? "-") report_days=\(policy.reportDays.map(String.init) ?? "-")"
            + (dryRun ? " dry_run" : "")
        return try jobs.accept(.retention, request, subject: subject, admin.retentionWork(policy, dryRun: dryRun))
    }
}
