/// A `multipart/form-data` body (RFC 7578) split into its parts.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        public var name: String?
        public var filename: String?
        public var contentType: String?
        public var body: [UInt8]
    }

    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case missingBoundary
        case invalidBoundary
        case malformed

        public var description: String {
            switch self {
            case .missingBoundary: "the multipart content type has no boundary parameter"
            case .invalidBoundary: "the multipart boundary must be 1 to 70 characters (RFC 2046)"
            case .malformed: "the multipart body is malformed"
            }
        }
    }

    public var parts: [Part]

    /// The boundary parameter of a `multipart/form-data` content type, or nil.
    public static func boundary(fromContentType contentType: String) -> String? {
        guard let value = parameter("boundary", in: contentType), !value.isEmpty else { return nil }
        return value
    }

    /// The longest boundary RFC 2046 allows.
    public static let maxBoundaryLength = 70

    /// Splits `body` in one linear pass over it (every search resumes where the last ended).
    public init(body: [UInt8], boundary: String) throws(ParseError) {
        guard (1...Self.maxBoundaryLength).contains(boundary.utf8.count) else { throw .invalidBoundary }
        guard var position = ByteSearch(Array("--\(boundary)".utf8)).firstRange(in: body, from: 0)?.upperBound else { throw .malformed }
        let next = ByteSearch(Array("\r\n--\(boundary)".utf8))
        let headerEnding = ByteSearch([13, 10, 13, 10])
        parts = []
        while true {
            // After a delimiter: "--" ends the body, otherwise CRLF then headers.
            if body[position...].starts(with: Array("--".utf8)) { return }
            guard body[position...].starts(with: [13, 10]) else { throw .malformed }
            position += 2
            guard let headerEnd = headerEnding.firstRange(in: body, from: position) else { throw .malformed }
            let headerText = String(decoding: body[position..<headerEnd.lowerBound], as: UTF8.self)
            guard let end = next.firstRange(in: body, from: headerEnd.upperBound) else { throw .malformed }
            var part = Part(body: Array(body[headerEnd.upperBound..<end.lowerBound]))
            for line in headerText.split(separator: "\r\n") {
                let kv = line.split(separator: ":", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let value = kv[1].trimmingASCIIWhitespace()
                switch kv[0].trimmingASCIIWhitespace().lowercased() {
                case "content-disposition":
                    part.name = Self.parameter("name", in: value)
                    part.filename = Self.parameter("filename", in: value)
                case "content-type": part.contentType = value
                default: break
                }
            }
            parts.append(part)
            position = end.upperBound
        }
    }

    /// The value of parameter `name` (case-insensitive, quotes removed) in a header like
    /// `form-data; name="payload"; filename="usage.json"`.
    static func parameter(_ name: String, in header: String) -> String? {
        for param in header.split(separator: ";").dropFirst() {
            let kv = param.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingASCIIWhitespace().lowercased() == name else { continue }
            var value = kv[1].trimmingASCIIWhitespace()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
