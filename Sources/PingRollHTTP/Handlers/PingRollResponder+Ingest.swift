import PingRollCore
import PingRollService

extension PingRollResponder {
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
        services.ingest.storePing(decoded, receivedAt: .now()) { [self] outcome in
            switch outcome {
            case .refused(let refusal):
                reject(head, body: decoded, decoded: true, HTTPError(refusal.status, refusal.code, refusal.message)) { done(.failure($0)) }
            case .stored(let id, let duplicate, let installation):
                metrics?.ingested(duplicate ? .duplicate : .accepted)
                if duplicate { logger.debug("duplicate ping", metadata: ["installation": "\(installation)", "id": "\(id)"]) }
                done(.success(id))
            case .failed(let error):
                done(.failure(storageFailure(error)))
            }
        }
    }
}
