import Foundation
import PingRollCore
import PingRollStore

/// Fetches an instance's cached Service Ping payload from its API
/// (`GET /api/v4/usage_data/service_ping`, GitLab 16.9+, a personal access token with the
/// `read_service_ping` scope, sent as `PRIVATE-TOKEN`).
///
/// The token never appears in an error or log. Redirects are not followed (a redirect could
/// carry the token to another host or to plain HTTP), bodies are capped, and plain `http://` is
/// refused except for loopback addresses.
public struct ServicePingPull: Sendable {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        /// The HTTP status, when the instance answered.
        public var status: Int?
    }

    public let endpoint: URL
    public let maxBytes: Int
    public let timeoutSeconds: Double

    /// `base` is the instance's URL (`https://gitlab.example.com`, with a relative URL root if
    /// it has one).
    public init(base: String, maxBytes: Int = IngestLimits().maxDecompressedBytes, timeoutSeconds: Double = 30) throws(Failure) {
        let trimmed = base.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 2048, let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.query == nil, url.fragment == nil, url.user == nil, url.password == nil else {
            throw Failure(description: "`\(String(trimmed.prefix(200)))` is not an instance URL such as https://gitlab.example.com")
        }
        switch scheme {
        case "https": break
        case "http":
            guard Self.isLoopback(host) else {
                throw Failure(description: "plain http:// would send the token unencrypted; use https:// (http:// is allowed for loopback addresses only)")
            }
        default:
            throw Failure(description: "`\(scheme)://` is not HTTPS; give the instance's https:// URL")
        }
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        var components = URLComponents()
        components.scheme = scheme
        components.host = host
        components.port = url.port
        components.path = path + "/api/v4/usage_data/service_ping"
        guard let endpoint = components.url else { throw Failure(description: "the instance URL does not form an API URL") }
        self.endpoint = endpoint
        self.maxBytes = maxBytes
        self.timeoutSeconds = timeoutSeconds
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { p in UInt8(p) != nil }
    }

    /// A personal access token from its file: one line of printable ASCII, at most 4 KiB.
    public static func readToken(_ path: String) throws(Failure) -> String {
        let data: [UInt8]
        do throws(BoundedFile.Failure) { data = try BoundedFile.read(path, maxBytes: 4096) } catch {
            if error == .unreadable { throw Failure(description: "cannot read the token file \(path)") }
            throw Failure(description: "\(path) does not hold a token (a single line of text)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw Failure(description: "\(path) does not hold a token (a single line of text)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, token.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\0" }) else {
            throw Failure(description: "\(path) does not hold a token (a single line of text)")
        }
        return token
    }

    /// A pulled payload that is not a valid ping: why, and its quarantine entry.
    public struct Rejected: Error, Sendable {
        public var refusal: PingIntake.Refusal
        public var entry: QuarantineRecord
    }

    /// What to store for a pulled payload: the ping, or its quarantine entry (with the URL it
    /// came from) when it is not a valid ping.
    public func storable(_ bytes: [UInt8], intake: PingIntake, receivedAt: Timestamp) -> Result<PingRecord, Rejected> {
        switch intake.prepare(bytes, receivedAt: receivedAt) {
        case .success(let record): return .success(record)
        case .failure(let refusal):
            return .failure(Rejected(refusal: refusal, entry: QuarantineRecord(
                receivedAt: receivedAt, route: "pull", status: refusal.status, reason: refusal.code,
                message: "pulled from \(endpoint.absoluteString): \(refusal.message)", remoteAddress: nil,
                contentType: "application/json", contentEncoding: nil, bodySize: bytes.count, body: bytes)))
        }
    }

    /// The payload's bytes, or why there are none. Memory stays within `maxBytes` whatever the
    /// instance sends (`BoundedFetch`); `cancellation` stops the fetch within about a second.
    public func fetch(token: String, cancellation: BoundedFetch.Cancellation? = nil) throws(Failure) -> [UInt8] {
        let host = endpoint.host ?? "the instance"
        let answer: BoundedFetch.Answer
        do throws(BoundedFetch.Failure) {
            answer = try BoundedFetch.get(endpoint.absoluteString,
                                          headers: [("PRIVATE-TOKEN", token), ("Accept", "application/json"), ("User-Agent", "pingroll")],
                                          maxBytes: maxBytes, timeoutSeconds: timeoutSeconds, cancellation: cancellation)
        } catch {
            switch error {
            case .tooLarge: throw Failure(description: "the payload is larger than \(maxBytes) bytes (compressed or not); it was not read further")
            case .timedOut: throw Failure(description: "\(host) did not answer within \(Int(timeoutSeconds)) s")
            case .cancelled: throw Failure(description: "the pull from \(host) was cancelled (pingroll is stopping)")
            case .badEncoding(let reason): throw Failure(description: "\(host) sent an unusable body: \(reason)")
            case .unreachable(let reason): throw Failure(description: "cannot reach \(host): \(reason)")
            }
        }
        let body = answer.body
        switch answer.status {
        case 200:
            guard !body.isEmpty, !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else {
                throw Failure(description: "the instance has no Service Ping payload cached yet (is Service Ping enabled? has its weekly job run?)", status: 200)
            }
            return body
        case 301, 302, 303, 307, 308:
            throw Failure(description: "the instance answered \(answer.status), a redirect, which is not followed (it could carry the token elsewhere); give the URL it redirects to", status: answer.status)
        case 401:
            throw Failure(description: "the token was refused (401): is it valid and unexpired?", status: 401)
        case 403:
            throw Failure(description: "the token may not read Service Ping (403): it needs the read_service_ping scope", status: 403)
        case 404:
            throw Failure(description: "no Service Ping API at \(endpoint.absoluteString) (404): it needs GitLab 16.9 or later, and the instance's URL", status: 404)
        default:
            throw Failure(description: "the instance answered \(answer.status)", status: answer.status)
        }
    }
}
