import PingRollCore
import PingRollService

/// One concern's routes: a small struct that holds only the services it uses and registers its
/// own routes. Its handlers throw; the controller answers every error the same way.
protocol Controller: Sendable {
    func register(_ r: inout Router, limits: IngestLimits)
}

extension Controller {
    /// A route's answer as a method of this controller (`{ try $0.list($1) }`).
    func bind(_ answer: @escaping @Sendable (Self, HTTPRequest) throws -> HTTPResponse) -> @Sendable (PingRollResponder, HTTPRequest) throws -> HTTPResponse {
        { [self] _, request in try answer(self, request) }
    }

    /// A route that answers later (after a write commits) as a method of this controller.
    func bindCallback(_ handler: @escaping @Sendable (Self, HTTPRequest, @escaping @Sendable (HTTPResponse) -> Void) -> Void) -> Route.Handler {
        { [self] _, request, done in handler(self, request, done) }
    }
}

extension HTTPError {
    static let noCatalog = HTTPError(503, "no_catalog", "this pingroll runs without a metric catalog")
}

extension Jobs {
    /// How long a route that starts a job waits for it before answering (a small input finishes first).
    static let settleTime: Duration = .milliseconds(300)

    /// Starts `work` as a job and answers 202 with where to follow it (`Location`) and the job as
    /// it stands.
    func accept(_ kind: JobKind, _ request: HTTPRequest, subject: String, total: Int? = nil, _ work: @escaping Jobs.Work) throws -> HTTPResponse {
        let job = settle(try start(kind, by: request.tokenName ?? "", subject: subject, total: total, work), within: Self.settleTime)
        var response = HTTPResponse.json(202, JobBody(job))
        response.headers.append(("Location", JobBody.location(job)))
        return response
    }
}
