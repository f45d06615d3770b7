/// Records the ingest lane hands to storage: a rejected body to keep, a report an instance
/// posts about its own ping. Plain values; the store decides how they are written.

/// A rejected request body kept for inspection and reprocessing.
public struct QuarantineRecord: Sendable, Equatable {
    public var receivedAt: Timestamp
    public var route: String
    public var status: Int
    /// A stable reason code, e.g. `invalid_json`, `payload_too_large`.
    public var reason: String
    public var message: String
    public var remoteAddress: String?
    public var contentType: String?
    public var contentEncoding: String?
    /// The size of the body as received (before any cap).
    public var bodySize: Int
    /// The body, capped at `QuarantineRecord.maxBodyBytes`.
    public var body: [UInt8]
    public var bodyTruncated: Bool
    /// Set for an entry that must be kept once however often it is rejected (a line of a file
    /// imported again): the store keeps one entry per route, message and body.
    public var unique = false

    /// How many bytes of a rejected body are kept.
    public static let maxBodyBytes = 1 << 20
    /// The default cap of the whole quarantine, in stored (compressed) bytes: 256 MiB.
    public static let defaultMaxStoredBytes: Int64 = 256 << 20
    /// What one entry counts against the cap besides its compressed body (its other columns).
    public static let rowOverheadBytes: Int64 = 256

    public init(receivedAt: Timestamp, route: String, status: Int, reason: String, message: String,
                remoteAddress: String?, contentType: String?, contentEncoding: String?,
                bodySize: Int, body: [UInt8]) {
        self.receivedAt = receivedAt
        self.route = route
        self.status = status
        self.reason = reason
        self.message = message
        self.remoteAddress = remoteAddress
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.bodySize = bodySize
        self.bodyTruncated = body.count > Self.maxBodyBytes || bodySize > body.count
        self.body = Array(body.prefix(Self.maxBodyBytes))
    }
}

/// A report an instance posts about its own ping: `/usage_ping_errors` or `/usage_ping_metadata`.
public struct ClientReport: Sendable, Equatable {
    public enum Kind: String, Sendable { case error, metadata }

    public var kind: Kind
    public var receivedAt: Timestamp
    public var uuid: String?
    public var hostname: String?
    public var version: String?
    public var message: String?
    public var elapsed: String?
    public var metricCount: Int?
    public var remoteAddress: String?
    /// The JSON body as posted.
    public var body: String
    /// A metadata report's metrics, read at ingest (`MetadataEntries`): stored as rows beside it,
    /// so instrumentation health never decodes a report again. Nil: not read (kept unfolded).
    public var metricEntries: [MetadataEntries.Entry]?

    public init(kind: Kind, receivedAt: Timestamp, body: String) {
        self.kind = kind
        self.receivedAt = receivedAt
        self.body = body
    }
}
