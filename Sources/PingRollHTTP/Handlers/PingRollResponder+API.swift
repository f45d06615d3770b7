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
        do throws(StorageError) { info = try services.query.authenticate(token) } catch { return .failure(ingestLane.storageFailure(error)) }
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
        case let e as StorageError: ingestLane.storageFailure(e).response
        default: HTTPError(500, "internal", "unexpected error").response
        }
    }

    static func forbidden(_ needed: Role, _ has: Role) -> HTTPError {
        HTTPError(403, "forbidden", "this needs the \(needed.rawValue) role; the token has \(has.rawValue)")
    }

}

