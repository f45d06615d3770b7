import PingRollCore
import PingRollService

/// `/api/v1/instrumentation/*` (viewer): which metrics fail or are slow, and why submissions fail.
struct InstrumentationController: Controller {
    let query: QueryService

    func register(_ r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/instrumentation/metrics", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                              queryParameters: ["from", "to", "version", "name", "limit"],
                                                              answer: bind { try $0.instrumentationMetrics($1) }))
        r.add("GET", "/api/v1/instrumentation/errors", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                             queryParameters: ["from", "to", "limit"], answer: bind { try $0.instrumentationErrors($1) }))
    }

    func instrumentationMetrics(_ request: HTTPRequest) throws -> HTTPResponse {
        let (from, to) = try request.dayRange()
        let limit = try request.limit(default: 200, max: 10_000)
        var version: (major: Int, minor: Int)?
        if let text = request.head.queryValue("version") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ (1...4).contains($0.count) && $0.allSatisfy(\.isNumber) && $0.allSatisfy(\.isASCII) }),
                  let major = Int(parts[0]), let minor = Int(parts[1]) else {
                throw HTTPError(400, "invalid_parameter", "`version`: must be MAJOR.MINOR, e.g. 16.5 (got \(text))")
            }
            version = (major, minor)
        }
        let prefix = request.head.queryValue("name")
        if let prefix, prefix.isEmpty || prefix.utf8.count > 500 {
            throw HTTPError(400, "invalid_parameter", "`name`: a metric name prefix of 1 to 500 bytes")
        }
        return .json(200, try query.instrumentationMetrics(fromDay: from, toDay: to, version: version, prefix: prefix, limit: limit))
    }

    func instrumentationErrors(_ request: HTTPRequest) throws -> HTTPResponse {
        let (from, to) = try request.dayRange()
        let limit = try request.limit(default: 200, max: 10_000)
        return .json(200, try query.instrumentationErrors(fromDay: from, toDay: to, limit: limit))
    }
}
