import PingRollCore
import PingRollService

extension PingRollResponder {
    private static let errorPaths = KeyPathSet(["error", "error.uuid", "error.hostname", "error.version",
                                                "error.message", "error.elapsed"])
    private static let metadataPaths = KeyPathSet(["metadata", "metadata.uuid", "metadata.metrics"])

    /// `POST /usage_ping_errors` and `POST /usage_ping_metadata`: stored as posted, answered 201 `{}`.
    func handleClientReport(_ kind: ClientReport.Kind, _ request: HTTPRequest,
                            _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        let head = request.head
        if let error = BodyDecoding.checkJSONContentType(head.headers["Content-Type"]) {
            return reject(head, body: request.body, error) { done($0.response) }
        }
        let body: [UInt8]
        switch BodyDecoding.decode(request.body, encoding: head.headers["Content-Encoding"], limits: limits) {
        case .success(let bytes): body = bytes
        case .failure(let error): return reject(head, body: request.body, error) { done($0.response) }
        }
        let paths = kind == .error ? Self.errorPaths : Self.metadataPaths
        let scan: JSONScanner.Result
        do {
            scan = try JSONScanner(paths: paths, maxDepth: limits.maxDepth).scan(body)
        } catch {
            let rejection = PayloadRejection.invalidJSON(error)
            return reject(head, body: body, decoded: true, HTTPError(400, rejection.code, rejection.description)) { done($0.response) }
        }
        let member = kind == .error ? "error" : "metadata"
        guard scan.topLevelIsObject, case .object? = scan.values[0] else {
            let error = HTTPError(422, "invalid_field", "the body must be a JSON object with an `\(member)` object")
            return reject(head, body: body, decoded: true, error) { done($0.response) }
        }
        var report = ClientReport(kind: kind, receivedAt: .now(), body: String(decoding: body, as: UTF8.self))
        report.remoteAddress = head.remoteAddress
        // Decoded strings may hold NULs (`\u0000`); these fields are informational, so a NUL
        // becomes U+FFFD instead of cutting the text or failing the write.
        report.uuid = scan.values[1]?.stringValue?.replacingNUL()
        if kind == .error {
            report.hostname = scan.values[2]?.stringValue?.replacingNUL()
            report.version = scan.values[3]?.stringValue?.replacingNUL()
            report.message = scan.values[4]?.stringValue?.replacingNUL()
            report.elapsed = scan.values[5].flatMap { $0.stringValue?.replacingNUL() ?? $0.numberValue?.text }
        } else {
            if case .array(let count, _)? = scan.values[2] { report.metricCount = count }
            // Read here, on the ingest thread, once: the writer stores rows, and no view decodes the report again.
            report.metricEntries = MetadataEntries.parse(body, maxDepth: limits.maxDepth).entries
        }
        services.ingest.storeReport(report) { [self] failure in
            if let failure { done(storageFailure(failure).response) } else { done(.json(201, EmptyBody())) }
        }
    }
}
