import Logging
import PingRollCore
import PingRollService

/// The ingest lane's routes — `POST /usage_data`, the client reports, the upload form, and a
/// quarantined ping retried — and the quarantine of what they refuse. It runs on the threads
/// that accept pings; nothing else does.
struct IngestController: Controller {
    let service: IngestService
    let admin: AdminService
    let limits: IngestLimits
    let metrics: PingRollMetrics?
    let logger: Logger
    let logLimiter: LogLimiter
    let errors: ErrorAnswers

    func register(_ r: inout Router, limits: IngestLimits) {
        let ingestBody = limits.maxBodyBytes, small = limits.maxOtherBodyBytes
        r.add("POST", "/usage_data", Route(maxBodyBytes: ingestBody, requiresLength: true, quarantinesRejections: true,
                                           handler: bindCallback { $0.handleUsageData($1, $2) }).on(.ingest))
        r.add("POST", "/usage_ping_errors", Route(maxBodyBytes: ingestBody, requiresLength: true, quarantinesRejections: true,
                                                  handler: bindCallback { $0.handleClientReport(.error, $1, $2) }).on(.ingest))
        r.add("POST", "/usage_ping_metadata", Route(maxBodyBytes: ingestBody, requiresLength: true, quarantinesRejections: true,
                                                    handler: bindCallback { $0.handleClientReport(.metadata, $1, $2) }).on(.ingest))
        r.add("GET", "/usage_data/new", Route(maxBodyBytes: small, requiresLength: false, errorStyle: .html) { _, _, done in
            done(UploadPage.form())
        }.on(.ingest))
        r.add("POST", "/usage_data/new", Route(maxBodyBytes: ingestBody, requiresLength: true, errorStyle: .html, quarantinesRejections: true,
                                               handler: bindCallback { $0.handleUpload($1, $2) }).on(.ingest))
        registerRetry(&r, limits: limits)
    }
}

extension IngestController {
    /// `POST /usage_data`: a Service Ping. Answers 201 `{"conv_index":{"usage_data_id":N}}` once stored.
    func handleUsageData(_ request: HTTPRequest, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        if limits.discardBodies { return done(HTTPResponse(status: 204)) }
        if let error = BodyDecoding.checkJSONContentType(request.head.headers["Content-Type"]) {
            return reject(request.head, body: request.body, error) { done($0.response) }
        }
        ingest(request.body, encoding: request.head.headers["Content-Encoding"], head: request.head) { result in
            switch result {
            case .success(let id): done(.json(201, PingAcceptedBody(usageDataID: id)))
            case .failure(let error): done(error.response)
            }
        }
    }

    /// The path every ping takes, whether posted by an instance or uploaded by hand: decode,
    /// extract, compress, store durably; rejected bodies are quarantined. Reports the usage_data_id.
    func ingest(_ body: [UInt8], encoding: String?, head: HTTPRequestHead,
                done: @escaping @Sendable (Result<Int64, HTTPError>) -> Void) {
        let decoded: [UInt8]
        switch BodyDecoding.decode(body, encoding: encoding, limits: limits) {
        case .success(let bytes): decoded = bytes
        case .failure(let error): return reject(head, body: body, error) { done(.failure($0)) }
        }
        service.storePing(decoded, receivedAt: .now()) { [self] outcome in
            switch outcome {
            case .refused(let refusal):
                reject(head, body: decoded, decoded: true, HTTPError(refusal.status, refusal.code, refusal.message)) { done(.failure($0)) }
            case .stored(let id, let duplicate, let installation):
                metrics?.ingested(duplicate ? .duplicate : .accepted)
                if duplicate { logger.debug("duplicate ping", metadata: ["installation": "\(installation)", "id": "\(id)"]) }
                done(.success(id))
            case .failed(let error):
                done(.failure(errors.storageFailure(error)))
            }
        }
    }

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
        service.storeReport(report) { [self] failure in
            if let failure { done(errors.storageFailure(failure).response) } else { done(.json(201, EmptyBody())) }
        }
    }

    // MARK: Quarantine

    /// - Parameter decoded: the body is already without its `Content-Encoding` (so none is recorded).
    func quarantineRecord(_ head: HTTPRequestHead, _ error: HTTPError, body: [UInt8], bodySize: Int,
                          decoded: Bool = false) -> QuarantineRecord {
        QuarantineRecord(receivedAt: .now(), route: head.path, status: error.status, reason: error.code, message: error.message,
                         remoteAddress: head.remoteAddress, contentType: head.headers["Content-Type"],
                         contentEncoding: decoded ? nil : head.headers["Content-Encoding"], bodySize: bodySize, body: body)
    }

    /// Keeps a rejected body, then reports `error` once the quarantine entry is durable.
    func reject(_ head: HTTPRequestHead, body: [UInt8], decoded: Bool = false, _ error: HTTPError,
                then done: @escaping @Sendable (HTTPError) -> Void) {
        countRejection(head, error)
        let (admitted, suppressed) = logLimiter.admit("rejected")
        if admitted {
            logger.info("rejected a request", metadata: ["path": "\(head.path)", "status": "\(error.status)", "code": "\(error.code)",
                                                         "remote": "\(head.remoteAddress ?? "-")", "similar_lines_suppressed": "\(suppressed)"])
        }
        service.quarantine(quarantineRecord(head, error, body: body, bodySize: body.count, decoded: decoded)) { [logger, logLimiter] failure in
            if let storageError = failure {
                let (admitted, suppressed) = logLimiter.admit("quarantine failed")
                if admitted {
                    logger.error("could not quarantine a rejected body", metadata: ["error": "\(storageError)",
                                                                                   "similar_lines_suppressed": "\(suppressed)"])
                }
            }
            done(error)
        }
    }

    /// `POST /usage_data/new`: the upload form's multipart body (or a JSON body), then the same
    /// ingest path as `POST /usage_data`; answers with a page showing the id or the error.
    func handleUpload(_ request: HTTPRequest, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        let contentType = request.head.headers["Content-Type"] ?? ""
        let payload: [UInt8]
        var encoding: String? = nil
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = MultipartForm.boundary(fromContentType: contentType) else {
                let error = HTTPError(400, "invalid_multipart", MultipartForm.ParseError.missingBoundary.description)
                return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
            }
            do {
                let form = try MultipartForm(body: request.body, boundary: boundary)
                guard let part = form.parts.first(where: { $0.name == "payload" }) ?? form.parts.first(where: { $0.filename != nil }),
                      !part.body.isEmpty else {
                    let error = HTTPError(422, "missing_file", "choose a payload file to upload")
                    return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
                }
                payload = part.body
            } catch {
                let error = HTTPError(400, "invalid_multipart", error.description)
                return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
            }
        } else if BodyDecoding.checkJSONContentType(contentType) == nil {
            payload = request.body
            encoding = request.head.headers["Content-Encoding"]
        } else {
            let error = HTTPError(415, "unsupported_media_type", "upload the payload file with the form (multipart/form-data) or post it as application/json")
            return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
        }
        ingest(payload, encoding: encoding, head: request.head) { done(UploadPage.result($0)) }
    }

    func registerRetry(_ r: inout Router, limits: IngestLimits) {
        r.add("POST", "/api/v1/quarantine/{id}/retry", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                     queryParameters: [], handler: bindCallback { $0.retryQuarantined($1, $2) }))
    }

    /// `POST /api/v1/quarantine/{id}/retry`: runs a quarantined ping body through ingest again
    /// (as JSON, whatever content type it was sent with). A new rejection is quarantined anew.
    func retryQuarantined(_ request: HTTPRequest, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let id = request.pathParameters["id"].flatMap({ Int64($0) }) else {
            return done(HTTPError.notFound(request.head.path).response)
        }
        let record: AdminService.RetriablePing
        do { record = try admin.retriablePing(id: id) } catch { return done(errors.response(error)) }
        var headers = [("Content-Type", "application/json")]
        if let encoding = record.contentEncoding { headers.append(("Content-Encoding", encoding)) }
        let head = HTTPRequestHead(method: "POST", path: "/usage_data", headers: HTTPHeaders(headers), remoteAddress: record.remoteAddress)
        ingest(record.body, encoding: record.contentEncoding, head: head) { [admin] result in
            switch result {
            case .success(let pingID):
                do { try admin.markRetried(quarantineID: id, pingID: pingID) } catch {}
                done(.json(200, RetryBody(quarantineID: id, usageDataID: pingID)))
            case .failure(let error):
                done(error.response)
            }
        }
    }

    /// A rejected ping (not a client report) in the metrics.
    func countRejection(_ head: HTTPRequestHead, _ error: HTTPError) {
        if head.path == "/usage_data" || head.path == "/usage_data/new" { metrics?.rejected(reason: error.code) }
    }
}
