import FoundationEssentials
import PingRollCore
import PingRollService

/// `/api/v1/*`: every request needs `Authorization: Bearer TOKEN`; missing or invalid → 401
/// (whether or not the route exists), a role too low → 403.
extension PingRollResponder {
    static let apiPrefix = "/api/v1/"

    static func addAPIRoutes(to r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/api/v1/catalog", Route(maxBodyBytes: small, requiresLength: false, role: .viewer, queryParameters: [], answer: { responder, _ in
            guard let catalog = responder.services.catalog else { throw noCatalog }
            return .json(200, CatalogBody(catalog))
        }))
        r.add("GET", "/api/v1/series", Route(maxBodyBytes: small, requiresLength: false, role: .viewer,
                                             queryParameters: ["metric", "interval", "from", "to", "group_by", "filter", "include_internal", "format"], answer: { try $0.series($1) }))
        r.add("GET", "/api/v1/breakdown", Route(maxBodyBytes: small, requiresLength: false, role: .viewer,
                                                queryParameters: ["metric", "period", "group_by", "filter", "include_internal"], answer: { try $0.breakdown($1) }))
    }

    static let noCatalog = HTTPError(503, "no_catalog", "this pingroll runs without a metric catalog")

    /// Checks the bearer token and the route's role; the token (nil on public routes) or the refusal.
    func authorize(_ head: HTTPRequestHead, route: Route?) -> Result<TokenInfo?, HTTPError> {
        guard head.path.hasPrefix(Self.apiPrefix) || route?.role != nil else { return .success(nil) }
        let challenge = [("WWW-Authenticate", "Bearer realm=\"pingroll\"")]
        guard let token = BearerToken.fromAuthorization(head.headers["Authorization"]) else {
            return .failure(HTTPError(401, "unauthorized", "send Authorization: Bearer TOKEN (create one with `pingroll token create`)", headers: challenge))
        }
        let info: TokenInfo?
        do throws(StorageError) { info = try services.query.authenticate(token) } catch { return .failure(storageFailure(error)) }
        guard let info else { return .failure(HTTPError(401, "unauthorized", "the token is unknown or revoked", headers: challenge)) }
        if let needed = route?.role, info.role < needed { return .failure(Self.forbidden(needed, info.role)) }
        return .success(info)
    }

    /// The one mapping from what a handler throws to its answer: an `HTTPError` as it is, a bad
    /// parameter 400, an invalid field 422, a storage failure 503/500 (see `storageFailure`),
    /// anything else 500.
    func errorResponse(_ error: any Error) -> HTTPResponse {
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

    static func forbidden(_ needed: Role, _ has: Role) -> HTTPError {
        HTTPError(403, "forbidden", "this needs the \(needed.rawValue) role; the token has \(has.rawValue)")
    }

    func series(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let catalog = services.catalog else { throw Self.noCatalog }
        let query = try SeriesQuery.parse(request.head.query, catalog: catalog)
        let groups = try services.query.series(query)
        switch request.head.queryValue("format") ?? "json" {
        case "json": return .json(200, SeriesBody(query, groups))
        case "csv":
            let name = query.metric.keyPath.replacingOccurrences(of: ".", with: "_")
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/csv; charset=utf-8"),
                                                       ("Content-Disposition", "attachment; filename=\"\(name)-\(query.interval.rawValue).csv\"")],
                                body: Array(SeriesRendering.csv(query, groups).utf8))
        case let other: throw HTTPError(400, "invalid_parameter", "`format` must be json or csv (got \(other))")
        }
    }

    /// `period=week:2024-01-01|month:2024-01|day:2024-01-03&group_by=DIM`: one period split by a dimension.
    func breakdown(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let catalog = services.catalog else { throw Self.noCatalog }
        let args = request.head.query
        guard let periodText = request.head.queryValue("period") else {
            throw HTTPError(400, "invalid_parameter", "`period`: is required, e.g. week:2024-01-01, month:2024-01 or day:2024-01-03")
        }
        let parts = periodText.splitting(atASCII: UInt8(ascii: ":"), maxSplits: 1, omittingEmpty: false)
        guard parts.count == 2, let kind = PeriodKind(rawValue: parts[0]),
              let day = days(isoDate: kind == .month && parts[1].count == 7 ? parts[1] + "-01" : parts[1]) else {
            throw HTTPError(400, "invalid_parameter", "`period`: must be week:YYYY-MM-DD, month:YYYY-MM or day:YYYY-MM-DD (got \(periodText))")
        }
        guard request.head.queryValue("group_by") != nil else {
            throw HTTPError(400, "invalid_parameter", "`group_by`: is required: \(RollupTuple.dimensions.joined(separator: ", "))")
        }
        let start = kind.start(of: Timestamp(milliseconds: day * 86_400_000))
        var forwarded = args.filter { ["metric", "group_by", "filter", "include_internal"].contains($0.0) }
        forwarded += [("interval", kind.rawValue), ("from", isoDate(days: start)), ("to", isoDate(days: start))]
        let query = try SeriesQuery.parse(forwarded, catalog: catalog)
        return .json(200, BreakdownBody(query, try services.query.series(query)))
    }
}

extension PingRollResponder {
    static func addAdminRoutes(to r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/quarantine", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                 queryParameters: ["limit"], answer: { try $0.quarantineList($1) }))
        // Viewers see how the pulls go (the overview dashboard shows it); the instances' URLs and
        // the error texts, which name hosts and paths, only admins.
        r.add("GET", "/api/v1/pulls", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                            queryParameters: [], answer: { responder, request in
            .json(200, PullsBody(intervalSeconds: responder.pulls?.interval ?? 0, responder.pulls?.status ?? [], details: request.role == .admin))
        }))
    }

    /// `GET /api/v1/quarantine?limit=N`: the newest rejected bodies with why they were rejected.
    func quarantineList(_ request: HTTPRequest) throws -> HTTPResponse {
        let limit = try request.limit(default: 50, max: 1000)
        return .json(200, try services.admin.quarantineList(limit: limit))
    }
}

extension PingRollResponder {
    static func addRetryRoute(to r: inout Router, limits: IngestLimits) {
        r.add("POST", "/api/v1/quarantine/{id}/retry", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                     queryParameters: []) { responder, request, done in
            responder.retryQuarantined(request, done)
        })
    }

    /// `POST /api/v1/quarantine/{id}/retry`: runs a quarantined ping body through ingest again
    /// (as JSON, whatever content type it was sent with). A new rejection is quarantined anew.
    func retryQuarantined(_ request: HTTPRequest, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let id = request.pathParameters["id"].flatMap({ Int64($0) }) else {
            return done(HTTPError.notFound(request.head.path).response)
        }
        let record: AdminService.RetriablePing
        do { record = try services.admin.retriablePing(id: id) } catch { return done(errorResponse(error)) }
        var headers = [("Content-Type", "application/json")]
        if let encoding = record.contentEncoding { headers.append(("Content-Encoding", encoding)) }
        let head = HTTPRequestHead(method: "POST", path: "/usage_data", headers: HTTPHeaders(headers), remoteAddress: record.remoteAddress)
        ingest(record.body, encoding: record.contentEncoding, head: head) { [services] result in
            switch result {
            case .success(let pingID):
                do { try services.admin.markRetried(quarantineID: id, pingID: pingID) } catch {}
                done(.json(200, RetryBody(quarantineID: id, usageDataID: pingID)))
            case .failure(let error):
                done(error.response)
            }
        }
    }
}
