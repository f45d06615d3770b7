import Logging
import PingRollCore
import PingRollService

/// How an answer is finished and accounted for: charset, access log, metrics; `/metrics`; heads
/// refused before routing.
extension PingRollResponder {
    public func completed(_ exchange: HTTPExchange) {
        let route = exchange.route ?? "unmatched"
        metrics?.request(route: route, status: exchange.status, duration: exchange.duration)
        guard let accessLog else { return }
        // Only values pingroll chose or parsed: the route template, never the raw path.
        let method = Self.methods.contains(exchange.method) ? exchange.method : "other"
        let (seconds, attoseconds) = exchange.duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        accessLog.info("request", metadata: ["method": "\(method)", "route": "\(route)", "status": "\(exchange.status)",
                                             "bytes": "\(exchange.bytes.map(String.init) ?? "-")",
                                             "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
                                             "remote": "\(exchange.remoteAddress ?? "-")"])
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// `GET /metrics`: for any client unless `--metrics-allow` lists networks.
    func metricsExposition(_ head: HTTPRequestHead) -> HTTPResponse {
        guard let metrics else { return HTTPError(404, "not_found", "no route for \(head.path)").response }
        guard metricsAllowed.admits(head.remoteAddress) else {
            return HTTPError(403, "forbidden", "this client address may not read /metrics (see --metrics-allow)").response
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                            body: metrics.exposition(services.ingest))
    }


    /// Every API answer, errors included, says its charset.
    func finished(_ head: HTTPRequestHead, _ response: HTTPResponse) -> HTTPResponse {
        guard head.path.hasPrefix(Self.apiPrefix) else { return response }
        var r = response
        r.headers = r.headers.map { $0.0 == "Content-Type" && $0.1 == "application/json" ? ($0.0, "application/json; charset=utf-8") : $0 }
        return r
    }

    /// Heads the server refused before routing are quarantined like any rejected request
    /// (the head is the body kept), without waiting.
    public func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?) {
        let path = String(target.prefix { $0 != "?" })
        let head = HTTPRequestHead(method: "-", path: path.isEmpty ? "-" : path, remoteAddress: remoteAddress)
        // The head is kept as received but for its secrets: credential headers and parameters are masked.
        ingestLane.reject(head, body: Redaction.head(rawHead), decoded: true, error) { _ in }
    }
}
