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
        do throws(StorageError) { info = try services.query.authenticate(token) } catch { return .failure(errors.storageFailure(error)) }
        guard let info else { return .failure(HTTPError(401, "unauthorized", "the token is unknown or revoked", headers: challenge)) }
        if let needed = route?.role, info.role < needed { return .failure(Self.forbidden(needed, info.role)) }
        return .success(info)
    }

    /// What a handler's error answers (see `ErrorAnswers`).
    func errorResponse(_ error: any Error) -> HTTPResponse { errors.response(error) }

    static func forbidden(_ needed: Role, _ has: Role) -> HTTPError {
        HTTPError(403, "forbidden", "this needs the \(needed.rawValue) role; the token has \(has.rawValue)")
    }

}

