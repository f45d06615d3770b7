import PingRollCore
import PingRollService

/// Query arguments and JSON bodies read the same way by every route that takes them.
extension PingRollResponder {
    /// `from` and `to` (YYYY-MM-DD, inclusive; default the last `defaultDays` days), at most ten
    /// years apart.
    func dayRange(_ request: HTTPRequest, defaultDays: Int64 = 30) throws(HTTPError) -> (from: Int64, to: Int64) {
        let today = PeriodKind.day.start(of: .now())
        var bounds: [Int64] = []
        for (name, fallback) in [("from", today - (defaultDays - 1)), ("to", today)] {
            guard let text = request.head.queryValue(name) else { bounds.append(fallback); continue }
            guard let day = days(isoDate: text) else {
                throw HTTPError(400, "invalid_parameter", "`\(name)`: must be a date YYYY-MM-DD (got \(text))")
            }
            bounds.append(day)
        }
        guard bounds[0] <= bounds[1], bounds[1] - bounds[0] < 3660 else {
            throw HTTPError(400, "invalid_parameter", "`to`: must be on or after `from`, at most ten years later")
        }
        return (bounds[0], bounds[1])
    }

    /// `limit=N`: `fallback` when absent, else 1 to `max`.
    func limitArgument(_ request: HTTPRequest, default fallback: Int, max: Int) throws(HTTPError) -> Int {
        let text = request.head.queryValue("limit") ?? "\(fallback)"
        guard let limit = Int(text), (1...max).contains(limit) else {
            throw HTTPError(400, "invalid_parameter", "`limit`: must be 1 to \(max) (got \(text))")
        }
        return limit
    }

    /// A JSON body checked before anything parses it: its media type (unless the route accepts
    /// any), then its grammar and depth (16) by the scanner; the scan, or a 415/400.
    @discardableResult
    func checkedJSONBody(_ request: HTTPRequest, requireContentType: Bool = true) throws(HTTPError) -> JSONScanner.Result {
        if requireContentType, let refusal = BodyDecoding.checkJSONContentType(request.head.headers["Content-Type"]) { throw refusal }
        do throws(JSONScanError) { return try JSONScanner(paths: KeyPathSet([]), maxDepth: 16).scan(request.body) } catch {
            throw HTTPError(400, "invalid_json", error.description)
        }
    }
}
