import PingRollCore
import PingRollService

/// `/api/v1/annotations`: notes on the time axis. Viewers read them; pm adds and deletes
/// manual ones (pingroll's own are kept).
struct AnnotationsController: Controller {
    let annotations: AnnotationService

    func register(_ r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/annotations", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                  queryParameters: ["from", "to", "metric"], answer: bind { try $0.list($1) }))
        r.add("POST", "/api/v1/annotations", Route(maxBodyBytes: 8192, requiresLength: true, role: .pm, queryParameters: [],
                                                   answer: bind { try $0.add($1) }))
        r.add("DELETE", "/api/v1/annotations/{id}", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .pm,
                                                          queryParameters: [], answer: bind { try $0.delete($1) }))
    }

    /// `GET /api/v1/annotations?from=&to=[&metric=]` (default: the last 365 days).
    func list(_ request: HTTPRequest) throws -> HTTPResponse {
        let (from, to) = try request.dayRange(defaultDays: 365)
        let metric = request.head.queryValue("metric")
        if let metric, metric.isEmpty || metric.utf8.count > 500 { throw HTTPError(400, "invalid_parameter", "`metric`: a key path of 1 to 500 bytes") }
        return .json(200, try annotations.list(fromDay: from, toDay: to, metric: metric))
    }

    /// `POST /api/v1/annotations` with `{"at": TIME, "text": "…", "metric": KEY|null}`.
    func add(_ request: HTTPRequest) throws -> HTTPResponse {
        let inputs = try request.fieldInputs().inputs
        for key in inputs.keys.sorted() where !["at", "text", "metric"].contains(key) {
            throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` is not a field; send at, text and metric")
        }
        guard case .text(let atText)? = inputs["at"], let at = Timestamp.parseISO8601(atText) else {
            throw HTTPError(422, "invalid_field", "`at`: is required, an ISO 8601 time such as 2026-12-01T10:00:00Z")
        }
        guard case .text(let text)? = inputs["text"] else { throw HTTPError(422, "invalid_field", "`text`: is required") }
        var metric: String?
        switch inputs["metric"] {
        case nil, .null?: break
        case .text(let m)?: metric = m
        default: throw HTTPError(422, "invalid_field", "`metric` must be a catalog metric's key path, or null")
        }
        return .json(201, try annotations.add(at: at, text: text, metric: metric))
    }

    /// `DELETE /api/v1/annotations/{id}`: a manual one.
    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = try request.path("id", as: Int64.self, notFound: "there is no annotation \(request.pathParameters["id"] ?? "")")
        try annotations.delete(id: id)
        return .json(200, AnnotationDeletedBody(id: id))
    }
}
