import PingRollCore
import PingRollService

/// Content negotiation for JSON bodies: media type and `Content-Encoding`.
enum BodyDecoding {
    /// Accepts `application/json` and `application/*+json`, with any parameters.
    static func checkJSONContentType(_ value: String?) -> HTTPError? {
        let mediaType = (value ?? "").split(separator: ";").first.map { $0.trimmingASCIIWhitespace().lowercased() } ?? ""
        if mediaType == "application/json" { return nil }
        if mediaType.hasPrefix("application/"), mediaType.hasSuffix("+json") { return nil }
        let sent = mediaType.isEmpty ? "no Content-Type" : "Content-Type \(mediaType)"
        return HTTPError(415, "unsupported_media_type",
                         "the body must be JSON sent with Content-Type: application/json (got \(sent))")
    }

    /// The body with its `Content-Encoding` removed; gzip is the only encoding accepted.
    static func decode(_ body: [UInt8], encoding: String?, limits: IngestLimits) -> Result<[UInt8], HTTPError> {
        let coding = (encoding ?? "identity").trimmingASCIIWhitespace().lowercased()
        switch coding {
        case "", "identity":
            return .success(body)
        case "gzip", "x-gzip":
            do {
                return .success(try Gzip.decompress(body, limit: limits.maxDecompressedBytes))
            } catch .tooLarge {
                return .failure(HTTPError(413, "payload_too_large",
                                          "the body decompresses to more than \(limits.maxDecompressedBytes) bytes"))
            } catch {
                return .failure(HTTPError(400, "invalid_gzip", "the body is not a valid gzip stream"))
            }
        default:
            return .failure(HTTPError(415, "unsupported_content_encoding",
                                      "Content-Encoding \(coding) is not supported; send the body as is or with gzip"))
        }
    }
}
