import FoundationEssentials
import PingRollCore
import PingRollService

/// `/api/v1/*`: every request needs `Authorization: Bearer TOKEN`; missing or invalid → 401
/// (whether or not the route exists), a role too low → 403.
extension PingRollResponder {
    static let apiPrefix = "/api/v1/"

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
