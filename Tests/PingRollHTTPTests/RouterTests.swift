import Testing
import PingRollCore
@testable import PingRollHTTP

/// The router without a socket: patterns, parameters, and `Allow` per path.
@Suite struct RouterTests {
    func router() -> Router {
        var r = Router()
        let route = Route(maxBodyBytes: 1, requiresLength: false) { _, _, _ in }
        r.add("GET", "/api/v1/beta/programs/{slug}", route)
        r.add("GET", "/api/v1/beta/programs/{slug}/cohorts/{name}", route)
        r.add("PUT", "/api/v1/beta/programs/{slug}/cohorts/{name}", route)
        r.add("GET", "/api/v1/beta/programs/{slug}/summary", route)
        r.add("POST", "/api/v1/beta/programs/{slug}/enrollments", route)
        r.add("GET", "/api/v1/beta/programs/{slug}/{other}", route)
        return r
    }

    func match(_ method: String, _ path: String) -> Router.Match { router().match(HTTPRequestHead(method: method, path: path)) }

    @Test func patternsBindTheirSegments() {
        guard case .route(_, let p) = match("PUT", "/api/v1/beta/programs/rmdb/cohorts/wave-1") else { Issue.record("no match"); return }
        #expect(p == ["slug": "rmdb", "name": "wave-1"])
    }

    @Test func aLiteralSegmentWinsOverAParameter() {
        guard case .route(_, let p) = match("GET", "/api/v1/beta/programs/rmdb/summary") else { Issue.record("no match"); return }
        #expect(p == ["slug": "rmdb"], "summary is not {other}")
    }

    @Test func allowListsTheMethodsOfThatPathOnly() {
        guard case .error(let e) = match("DELETE", "/api/v1/beta/programs/rmdb/cohorts/x") else { Issue.record("matched"); return }
        #expect(e.status == 405 && e.headers.first { $0.0 == "Allow" }?.1 == "GET, PUT, HEAD")
        guard case .error(let post) = match("GET", "/api/v1/beta/programs/rmdb/enrollments") else { Issue.record("matched"); return }
        #expect(post.status == 405 && post.headers.first { $0.0 == "Allow" }?.1 == "POST")
    }

    @Test(arguments: ["/api/v1/beta/programs//summary", "/api/v1/beta/programs/rmdb/summary/", "/api/v1/beta/programs/a/b/c/d/e"])
    func emptySegmentsAndOtherDepthsAreNotFound(path: String) {
        guard case .error(let e) = match("GET", path) else { Issue.record("matched"); return }
        #expect(e.status == 404)
    }
}

@Suite struct BearerHeaderTests {
    @Test func theAuthorizationHeaderYieldsTheBearerTokenOnly() {
        let t = BearerToken.generate()
        #expect(BearerToken.fromAuthorization("Bearer \(t.text)") == t)
        #expect(BearerToken.fromAuthorization("bearer  \(t.text) ") == t)
        #expect(BearerToken.fromAuthorization("Basic \(t.text)") == nil)
        #expect(BearerToken.fromAuthorization("Bearer") == nil)
        #expect(BearerToken.fromAuthorization(nil) == nil)
    }
}
