import PingRollCore
import PingRollStore

/// The one path from a Service Ping's bytes (without their content encoding) to what is
/// stored: extracted against the catalog, compressed, or refused with the status and reason the
/// quarantine records. HTTP ingest, the upload form, quarantine retries and `pingroll import`
/// all go through it, so they cannot disagree about what a valid ping is.
public struct PingIntake: Sendable {
    public let extractor: PayloadExtractor
    public let limits: IngestLimits

    public init(catalog: MetricCatalog?, limits: IngestLimits = IngestLimits()) {
        self.extractor = PayloadExtractor(maxDepth: limits.maxDepth, catalog: catalog)
        self.limits = limits
    }

    /// Why a body is not a storable ping, in the terms both fronts report it.
    public struct Refusal: Error, Sendable, Equatable {
        /// 400 for bodies that are not a JSON object, 422 for invalid fields.
        public var status: Int
        public var code: String
        public var message: String

        init(_ rejection: PayloadRejection) {
            status = rejection.isMalformed ? 400 : 422
            code = rejection.code
            message = rejection.description
        }
    }

    /// The record to store for `bytes` received at `receivedAt`, or why not.
    public func prepare(_ bytes: [UInt8], receivedAt: Timestamp) -> Result<PingRecord, Refusal> {
        guard bytes.count <= limits.maxDecompressedBytes else {
            return .failure(Refusal(.invalidField(name: "body", problem: "is longer than \(limits.maxDecompressedBytes) bytes")))
        }
        do {
            let facts = try extractor.extract(bytes, receivedAt: receivedAt)
            return .success(PingRecord(facts: facts, receivedAt: receivedAt, payload: PayloadCodec.compressPing(bytes)))
        } catch {
            return .failure(Refusal(error))
        }
    }
}
