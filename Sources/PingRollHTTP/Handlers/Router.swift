import PingRollCore

/// How a route answers: a handler plus what it needs from the request head.
struct Route: Sendable {
    enum ErrorStyle: Sendable { case json, html }
    /// Where the handler runs. `ingest`: on the server's own threads, which run nothing slow
    /// (the ingest routes hand their work to the group committer; health and constant pages
    /// answer at once). `api`: on the API lane's workers, with a time budget.
    enum Lane: Sendable { case ingest, api }

    typealias Handler = @Sendable (PingRollResponder, HTTPRequest, @escaping @Sendable (HTTPResponse) -> Void) -> Void

    var maxBodyBytes: Int
    /// A POST here must declare its length (`Content-Length` or chunked), else 411.
    var requiresLength: Bool
    var errorStyle: ErrorStyle = .json
    /// The role a bearer token needs; nil for public routes.
    var role: Role? = nil
    /// Whether a rejected body (413 included) is kept in the ping quarantine: the routes GitLab
    /// instances post to.
    var quarantinesRejections = false
    /// The query parameters the route reads; any other gets 400 (a typo such as `gruop_by` must
    /// not silently answer something else). nil: not checked.
    var queryParameters: Set<String>? = nil
    /// `METHOD /path/{param}` as registered: the route's label in metrics and the access log.
    var template = ""
    var lane = Lane.api
    var handler: Handler

    /// The route with its handler run on `lane`.
    func on(_ lane: Lane) -> Route {
        var route = self
        route.lane = lane
        return route
    }

    func unknownQueryParameter(in head: HTTPRequestHead) -> String? {
        guard let allowed = queryParameters else { return nil }
        return head.query.first { !allowed.contains($0.0) }?.0
    }
}

extension Route {
    /// A route whose handler answers at once and may throw: whatever it throws becomes the
    /// answer through one mapping, `ErrorAnswers`.
    init(maxBodyBytes: Int, requiresLength: Bool, errorStyle: ErrorStyle = .json, role: Role? = nil, quarantinesRejections: Bool = false,
         queryParameters: Set<String>? = nil, answer: @escaping @Sendable (PingRollResponder, HTTPRequest) throws -> HTTPResponse) {
        self.init(maxBodyBytes: maxBodyBytes, requiresLength: requiresLength, errorStyle: errorStyle, role: role,
                  quarantinesRejections: quarantinesRejections, queryParameters: queryParameters) { responder, request, done in
            do { done(try answer(responder, request)) } catch { done(responder.errorResponse(error)) }
        }
    }
}

/// Maps a path and method to a route; answers 404, 405 (with `Allow`) and 411 itself.
///
/// Paths are literal (`/api/v1/catalog`) or patterns with `{name}` segments
/// (`/api/v1/beta/programs/{slug}/cohorts/{name}`), each matching one non-empty segment; the
/// values come back as path parameters. `Allow` lists exactly the methods of the matched path.
struct Router: Sendable {
    private enum Segment: Sendable, Equatable { case literal(String), parameter(String) }

    private struct Entry: Sendable {
        var path: String
        var segments: [Segment]
        var methods: [(method: String, route: Route)]
    }

    private var entries: [Entry] = []

    /// Every (method, path) registered, paths as written (`{name}` for parameters).
    var routes: [(method: String, path: String)] {
        entries.flatMap { entry in entry.methods.map { (method: $0.method, path: entry.path) } }
    }

    mutating func add(_ method: String, _ path: String, _ route: Route) {
        var route = route
        route.template = "\(method) \(path)"
        if let i = entries.firstIndex(where: { $0.path == path }) {
            precondition(!entries[i].methods.contains { $0.method == method }, "\(method) \(path) is registered twice")
            entries[i].methods.append((method, route))
            return
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { s -> Segment in
            s.hasPrefix("{") && s.hasSuffix("}") ? .parameter(String(s.dropFirst().dropLast())) : .literal(String(s))
        }
        entries.append(Entry(path: path, segments: segments, methods: [(method, route)]))
        // Literal segments win over parameters where both could match.
        entries.sort { a, b in
            a.segments.count != b.segments.count ? a.segments.count < b.segments.count
                : a.segments.filter { if case .literal = $0 { true } else { false } }.count
                    > b.segments.filter { if case .literal = $0 { true } else { false } }.count
        }
    }

    enum Match {
        case route(Route, parameters: [String: String])
        case error(HTTPError)
    }

    func match(_ head: HTTPRequestHead) -> Match {
        let parts = head.path.split(separator: "/", omittingEmptySubsequences: false)
        var found: (Entry, [String: String])?
        for entry in entries where entry.segments.count == parts.count {
            var parameters: [String: String] = [:]
            var matches = true
            for (segment, part) in zip(entry.segments, parts) {
                switch segment {
                case .literal(let text): matches = text == part
                case .parameter(let name):
                    matches = !part.isEmpty
                    parameters[name] = String(part)
                }
                if !matches { break }
            }
            if matches { found = (entry, parameters); break }
        }
        guard let (entry, parameters) = found else { return .error(.notFound(head.path)) }
        let method = head.method == "HEAD" ? "GET" : head.method
        guard let route = entry.methods.first(where: { $0.method == method })?.route else {
            var allowed = entry.methods.map(\.method)
            if allowed.contains("GET") { allowed.append("HEAD") }
            return .error(.methodNotAllowed(head.method, allowed: allowed))
        }
        if route.requiresLength, head.method == "POST", head.contentLength == nil, !head.isChunked {
            return .error(HTTPError(411, "length_required",
                                    "send the body with a Content-Length header or Transfer-Encoding: chunked"))
        }
        return .route(route, parameters: parameters)
    }
}
