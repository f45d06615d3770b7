import PingRollCore
import PingRollService

/// Request headers with case-insensitive lookup, in the order received.
public struct HTTPHeaders: Sendable, Sequence {
    private var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        for (name, value) in fields { append(name, value) }
    }

    public mutating func append(_ name: String, _ value: String) { fields.append((name, value)) }

    /// The first value of `name`, compared case-insensitively.
    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    /// Every value of `name`, compared case-insensitively, in order.
    public func values(of name: String) -> [String] {
        let lower = name.lowercased()
        return fields.filter { $0.name.lowercased() == lower }.map(\.value)
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

/// What is known of a request before its body arrives.
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// The path without the query string.
    public var path: String
    /// Decoded query arguments, in order.
    public var query: [(String, String)]
    public var headers: HTTPHeaders
    public var remoteAddress: String?

    public init(method: String, path: String, query: [(String, String)] = [], headers: HTTPHeaders = HTTPHeaders(),
                remoteAddress: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.remoteAddress = remoteAddress
    }

    /// The declared `Content-Length`, when present and valid.
    public var contentLength: Int? { headers["Content-Length"].flatMap(ContentLength.parse) }

    /// Whether the body arrives with `Transfer-Encoding: chunked`.
    public var isChunked: Bool { headers["Transfer-Encoding"]?.lowercased().contains("chunked") ?? false }

    public func queryValue(_ name: String) -> String? { query.first { $0.0 == name }?.1 }
}

/// The one rule for `Content-Length` values, used by the head gate on raw heads and by every
/// request libmicrohttpd parses.
enum ContentLength {
    /// A value: ASCII digits only once spaces and tabs are trimmed, and fitting in an `Int`.
    static func parse(_ text: String) -> Int? {
        let t = text.trimmingASCIIWhitespaceOnly()
        return isWholeNumber(t) ? Int(t) : nil  // nil beyond Int.max
    }

    /// What is wrong with a request's `Content-Length` values (all of them, in order), or nil:
    /// one that is not a whole number (400), one beyond 64 bits (413: no body can be that large,
    /// whatever the route), or several that differ (400).
    static func problem(_ values: [String]) -> HTTPError? {
        let trimmed = values.map { $0.trimmingASCIIWhitespaceOnly() }
        for t in trimmed {
            guard isWholeNumber(t) else {
                return HTTPError(400, "bad_request", "Content-Length must be a non-negative whole number (got \(t.prefix(40)))")
            }
            guard Int(t) != nil else {
                return HTTPError(413, "payload_too_large", "the declared body of \(t.count) digits is larger than any limit")
            }
        }
        if Set(trimmed).count > 1 {
            return HTTPError(400, "bad_request", "the request has several different Content-Length headers")
        }
        return nil
    }

    private static func isWholeNumber(_ t: String) -> Bool { !t.isEmpty && t.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
}

/// A whole request: head and body.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
    /// The API token's name and role once the request is authorized.
    public var tokenName: String?
    public var role: Role?
    /// What the responder's `head` attached to the request.
    public var attachment: (any Sendable)?
    /// The values of the route's `{name}` path segments.
    public var pathParameters: [String: String] = [:]
    /// The query parameters the route declares (nil: it takes any).
    public var declaredQuery: Set<String>? = nil

    public init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// For long answers: called for the next piece of the body until it returns nil; the body is
    /// then sent chunked as it is produced (constant memory). `body` is ignored when set.
    public var stream: (@Sendable () -> [UInt8]?)?
    /// The route template that answered (`GET /api/v1/series`), for metrics and the access log;
    /// nil when no route did (404, framing errors).
    public var route: String?

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], stream: (@Sendable () -> [UInt8]?)? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
    }

    /// The whole body, draining `stream` when there is one (for tests and small answers).
    public func collectedBody() -> [UInt8] {
        guard let stream else { return body }
        var all: [UInt8] = []
        while let piece = stream() { all += piece }
        return all
    }

    /// A JSON answer encoded from its body type (`APIJSON`). A body that cannot be encoded (a
    /// defect) becomes a 500 with the error shape, never a crash.
    public static func json(_ status: Int, _ body: some Encodable, headers: [(String, String)] = []) -> HTTPResponse {
        let type = [("Content-Type", "application/json")]
        do {
            return HTTPResponse(status: status, headers: type + headers, body: try APIJSON.encode(body))
        } catch {
            let fallback = ErrorBody(code: "internal", message: "the answer could not be encoded")
            return HTTPResponse(status: 500, headers: type, body: (try? APIJSON.encode(fallback)) ?? [])
        }
    }

    public static func html(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")], body: Array(text.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }
}

extension String {
    func trimmingASCIIWhitespaceOnly() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

/// One answered request, as the server saw it (for metrics and the access log).
public struct HTTPExchange: Sendable {
    public var method: String
    /// The route template, or nil when no route answered.
    public var route: String?
    public var status: Int
    /// Body bytes sent; nil for a streamed body.
    public var bytes: Int?
    /// From the request's first callback to its answer being queued.
    public var duration: Duration
    public var remoteAddress: String?
}
