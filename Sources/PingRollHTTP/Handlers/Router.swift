import PingRollCore

/// How a route answers: a handler plus what it needs from the request head.
struct Route: Sendable {
    enum ErrorStyle: Sendable { case json, html }

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
    var handler: Handler

    func unknownQueryParameter(in head: HTTPRequestHead) -> String? {
        guard let allowed = queryParameters else { return nil }
        return head.query.first { !allowed.contains($0.0) }?.0
    }
}

/// Maps a path and method to a route; answers 404, 405 (with `Allow`) and 411 itself.
struct Router: Sendable {
    private var table: [String: [(method: String, route: Route)]] = [:]

    /// Every (method, path) registered; paths ending in `/*` match below the prefix.
    var routes: [(method: String, path: String)] {
        table.flatMap { path, entries in entries.map { (method: $0.method, path: path) } }
    }

    mutating func add(_ method: String, _ path: String, _ route: Route) {
        table[path, default: []].append((method, route))
    }

    enum Match {
        case route(Route)
        case error(HTTPError)
    }

    func match(_ head: HTTPRequestHead) -> Match {
        guard let entries = table[head.path] ?? prefixMatch(head.path) else { return .error(.notFound(head.path)) }
        let method = head.method == "HEAD" ? "GET" : head.method
        guard let route = entries.first(where: { $0.method == method })?.route else {
            var allowed = entries.map(\.method)
            if allowed.contains("GET") { allowed.append("HEAD") }
            return .error(.methodNotAllowed(head.method, allowed: allowed))
        }
        if route.requiresLength, head.method == "POST", head.contentLength == nil, !head.isChunked {
            return .error(HTTPError(411, "length_required",
                                    "send the body with a Content-Length header or Transfer-Encoding: chunked"))
        }
        return .route(route)
    }

    /// Routes registered as `/prefix/*` match any path below the prefix.
    private func prefixMatch(_ path: String) -> [(method: String, route: Route)]? {
        table.first { key, _ in key.hasSuffix("/*") && path.hasPrefix(String(key.dropLast())) && path.count > key.count - 1 }?.value
    }
}
