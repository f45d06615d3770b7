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

/// What a serving pingroll reports about its store (`/metrics` gauges).
public struct OperationalStatistics: Sendable, Equatable {
    /// The database's size on disk (SQLite: the file without its WAL; PostgreSQL: `pg_database_size`).
    public var databaseBytes: Int64
    public var quarantineEntries: Int64
    /// Stored bytes of the quarantine, as its cap counts them.
    public var quarantineBytes: Int64
    public var installations: Int64
    /// When the newest stored ping was received (ms since the epoch); nil without pings.
    public var lastPingReceivedAt: Int64?

    public init(databaseBytes: Int64, quarantineEntries: Int64, quarantineBytes: Int64, installations: Int64, lastPingReceivedAt: Int64?) {
        self.databaseBytes = databaseBytes
        self.quarantineEntries = quarantineEntries
        self.quarantineBytes = quarantineBytes
        self.installations = installations
        self.lastPingReceivedAt = lastPingReceivedAt
    }
}

/// Told of every committed write batch (for metrics); called on the writer thread, must not block.
public protocol WriteObserver: Sendable {
    /// `items` were made durable in one transaction that took `duration`.
    func committed(items: Int, duration: Duration)
}

/// What retention removes, each part optional (nil: kept forever).
public struct RetentionPolicy: Sendable, Equatable {
    /// Raw payloads of pings whose `recorded_at` is more than this many days old are dropped;
    /// the pings themselves stay, with their facts and rollup observations.
    public var payloadDays: Int?
    /// Quarantined bodies, metadata reports and error reports received more than this many
    /// days ago are deleted.
    public var reportDays: Int?

    /// Rows per retention transaction: about 0.1 s of work on this machine kind.
    public static let defaultBatch = 2_000

    /// Both periods must lie in this range (a day to a century).
    public static let dayRange = 1...36_500

    public init(payloadDays: Int? = nil, reportDays: Int? = nil) {
        self.payloadDays = payloadDays
        self.reportDays = reportDays
    }

    public var isEmpty: Bool { payloadDays == nil && reportDays == nil }

    /// Nil when valid, else why not.
    public var problem: String? {
        for (name, days) in [("payload days", payloadDays), ("report days", reportDays)] {
            if let days, !Self.dayRange.contains(days) { return "\(name) must be 1 to \(Self.dayRange.upperBound) (got \(days))" }
        }
        return isEmpty ? "nothing to apply: give payload days, report days or both" : nil
    }

    /// The instant before which `days` days ago falls, from `now` (no overflow: days is bounded).
    public static func cutoff(_ days: Int?, now: Timestamp) -> Int64? {
        guard let days, dayRange.contains(days) else { return nil }
        return now.milliseconds &- Int64(days) &* 86_400_000
    }
}
