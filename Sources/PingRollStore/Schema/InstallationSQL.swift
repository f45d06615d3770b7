import PingRollCore

/// An installation with the facts of its latest ping (by `recorded_at`).
public struct InstallationRecord: Sendable, Equatable {
    public var id: Int64
    public var key: InstallationKey
    public var firstSeenAt: Timestamp
    public var lastSeenAt: Timestamp
    public var lastRecordedAt: Timestamp?
    public var version: String?
    public var edition: String?
    public var tier: String?
    public var installationType: String?
    public var registryEnabled: Bool?
    public var registryVendor: String?
    public var registryVersion: String?
    /// `container_registry_server.db_enabled` as the catalog's `when` rule reads it (nil: unknown).
    public var dbEnabled: Bool?
    /// One of GitLab's own installations (see `InternalInstallations`).
    public var isInternal: Bool
    /// `settings.collected_data_categories` of the latest ping, normalised; nil when unknown.
    public var dataCategories: [String]?
    public var tuple: RollupTuple
}

enum InstallationSQL {
    static let select = """
        SELECT i.id, i.uuid, i.hostname, i.first_seen_at, i.last_seen_at, i.latest_recorded_at, i.version, i.edition, i.tier,
               i.installation_type, i.registry_enabled, i.registry_vendor, i.registry_version, i.version_major, i.version_minor,
               p.observations, i.edition, i.tier, i.installation_type, i.version_major, i.version_minor, i.registry_vendor,
               i.internal, i.data_categories
        FROM installations i LEFT JOIN pings p ON p.id = i.latest_ping_id AND p.recorded_at = i.latest_recorded_at
        """

    static func page(_ e: any SQLExecutor, after: Int64, limit: Int) throws(StorageError) -> [InstallationRecord] {
        try e.query(select + " WHERE i.id > $1 ORDER BY i.id LIMIT $2", [.integer(after), .integer(Int64(limit))],
                    operation: "listing installations").map(record)
    }

    static func byUUID(_ e: any SQLExecutor, _ uuid: String) throws(StorageError) -> [InstallationRecord] {
        try e.query(select + " WHERE i.uuid = $1 ORDER BY i.id", [.text(uuid)], operation: "reading an installation").map(record)
    }

    static func record(_ r: SQLRow) -> InstallationRecord {
        let observations = ObservationCodec.decode(r[15].string ?? "")
        var db: Bool?
        if case .bool(let b)? = observations["container_registry_server.db_enabled"] { db = b }
        return InstallationRecord(
            id: r[0].int64 ?? 0, key: InstallationKey(uuid: r[1].string ?? "", hostname: r[2].string),
            firstSeenAt: Timestamp(milliseconds: r[3].int64 ?? 0), lastSeenAt: Timestamp(milliseconds: r[4].int64 ?? 0),
            lastRecordedAt: r[5].int64.map { Timestamp(milliseconds: $0) }, version: r[6].string, edition: r[7].string,
            tier: r[8].string, installationType: r[9].string, registryEnabled: r[10].bool, registryVendor: r[11].string,
            registryVersion: r[12].string, dbEnabled: db, isInternal: r[22].bool ?? false,
            dataCategories: r[23].string.map { $0.splitting(atASCII: UInt8(ascii: ",")) }, tuple: RollupSQL.tuple(r, at: 16))
    }
}

extension SQLBackedStore {
    public func installations(after: Int64, limit: Int) throws(StorageError) -> [InstallationRecord] {
        try read { e throws(StorageError) in try InstallationSQL.page(e, after: after, limit: limit) }
    }

    public func installations(uuid: String) throws(StorageError) -> [InstallationRecord] {
        try read { e throws(StorageError) in try InstallationSQL.byUUID(e, uuid) }
    }
}

/// Ingest health: what arrived per day, what was refused and why.
public struct IngestHealth: Sendable, Equatable {
    public struct Day: Sendable, Equatable {
        public var day: Int64
        public var accepted: Int64
        public var duplicates: Int64
        public var rejected: [String: Int64]
    }

    public var days: [Day]
    public var lastPingReceivedAt: Timestamp?
    public var quarantined: Int64
    /// The bodies' sizes as received.
    public var quarantinedBytes: Int64
    /// What the quarantine holds on disk (compressed bodies plus a per-entry overhead).
    public var quarantineStoredBytes: Int64 = 0
    /// Entries dropped, oldest first, to keep the quarantine under its cap.
    public var quarantineDropped: Int64 = 0
}

enum IngestHealthSQL {
    static func read(_ e: any SQLExecutor, fromDay: Int64, toDay: Int64) throws(StorageError) -> IngestHealth {
        let op = "reading ingest health"
        var days: [Int64: IngestHealth.Day] = [:]
        for r in try e.query("SELECT day, accepted, duplicates FROM ingest_daily WHERE day >= $1 AND day <= $2",
                             [.integer(fromDay), .integer(toDay)], operation: op) {
            let day = r[0].int64 ?? 0
            days[day] = .init(day: day, accepted: r[1].int64 ?? 0, duplicates: r[2].int64 ?? 0, rejected: [:])
        }
        // Counted when quarantined, so the counts outlive entries the cap drops.
        for r in try e.query("SELECT day, reason, count FROM rejected_daily WHERE day >= $1 AND day <= $2",
                             [.integer(fromDay), .integer(toDay)], operation: op) {
            let day = r[0].int64 ?? 0
            var entry = days[day] ?? .init(day: day, accepted: 0, duplicates: 0, rejected: [:])
            entry.rejected[r[1].string ?? "", default: 0] &+= r[2].int64 ?? 0
            days[day] = entry
        }
        let last = try e.query("SELECT MAX(last_seen_at) FROM installations", [], operation: op).first?[0].int64
        let q = try e.query("SELECT COUNT(*), CAST(COALESCE(SUM(body_size), 0) AS BIGINT) FROM quarantine", [], operation: op).first
        let totals = try e.query("SELECT stored_bytes, dropped FROM quarantine_totals WHERE id = 1", [], operation: op).first
        var health = IngestHealth(days: days.values.sorted { $0.day < $1.day }, lastPingReceivedAt: last.map { Timestamp(milliseconds: $0) },
                                  quarantined: q?[0].int64 ?? 0, quarantinedBytes: q?[1].int64 ?? 0)
        health.quarantineStoredBytes = totals?[0].int64 ?? 0
        health.quarantineDropped = totals?[1].int64 ?? 0
        return health
    }
}

extension SQLBackedStore {
    public func ingestHealth(fromDay: Int64, toDay: Int64) throws(StorageError) -> IngestHealth {
        try read { e throws(StorageError) in try IngestHealthSQL.read(e, fromDay: fromDay, toDay: toDay) }
    }
}

extension SQLBackedStore {
    /// One quarantine entry, or nil.
    public func quarantineEntry(id: Int64) throws(StorageError) -> StoredQuarantineEntry? {
        try read { e throws(StorageError) in try SQLReader(executor: e).quarantine(id: id) }
    }

    /// Records that a quarantined body was reprocessed into the ping `pingID`.
    public func markRetried(quarantineID: Int64, pingID: Int64) throws(StorageError) {
        try writeTransaction("recording a retry") { e throws(StorageError) in
            try e.query("UPDATE quarantine SET retried_at = $2, retry_ping_id = $3 WHERE id = $1",
                        [.integer(quarantineID), .integer(Timestamp.now().milliseconds), .integer(pingID)], operation: "recording a retry")
        }
    }
}
