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
    static let columns = ColumnList([
        "id", "uuid", "hostname", "first_seen_at", "last_seen_at", "latest_recorded_at", "version", "edition", "tier",
        "installation_type", "registry_enabled", "registry_vendor", "registry_version", "version_major", "version_minor",
        "internal", "data_categories", "observations",
    ])

    static let select = "SELECT " + columns.names.map { $0 == "observations" ? "p.observations" : "i." + $0 }.joined(separator: ", ")
        + " FROM installations i LEFT JOIN pings p ON p.id = i.latest_ping_id AND p.recorded_at = i.latest_recorded_at"

    static func page(_ e: any SQLExecutor, after: Int64, limit: Int) throws(StorageError) -> [InstallationRecord] {
        try e.query(select + " WHERE i.id > $1 ORDER BY i.id LIMIT $2", [.integer(after), .integer(Int64(limit))],
                    operation: "listing installations").map { r throws(StorageError) in try record(r) }
    }

    static func byUUID(_ e: any SQLExecutor, _ uuid: String) throws(StorageError) -> [InstallationRecord] {
        try e.query(select + " WHERE i.uuid = $1 ORDER BY i.id", [.text(uuid)], operation: "reading an installation")
            .map { r throws(StorageError) in try record(r) }
    }

    /// The installations with these ids (any order; unknown ids are left out).
    static func byIDs(_ e: any SQLExecutor, _ ids: [Int64]) throws(StorageError) -> [InstallationRecord] {
        guard !ids.isEmpty else { return [] }
        let list = ids.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        return try e.query(select + " WHERE i.id IN (\(list))", ids.map { .integer($0) }, operation: "reading installations")
            .map { r throws(StorageError) in try record(r) }
    }

    static func record(_ values: SQLRow) throws(StorageError) -> InstallationRecord {
        let r = columns.row(values, "reading an installation")
        let observations = ObservationCodec.decode(try r.string("observations") ?? "")
        var db: Bool?
        if case .bool(let b)? = observations["container_registry_server.db_enabled"] { db = b }
        let categories = PingFacts.categories(stored: try r.string("data_categories"))
        let isInternal = try r.bool("internal") ?? false
        return InstallationRecord(
            id: try r.requiredInt64("id"), key: InstallationKey(uuid: try r.requiredString("uuid"), hostname: try r.string("hostname")),
            firstSeenAt: Timestamp(milliseconds: try r.requiredInt64("first_seen_at")),
            lastSeenAt: Timestamp(milliseconds: try r.requiredInt64("last_seen_at")),
            lastRecordedAt: try r.int64("latest_recorded_at").map { Timestamp(milliseconds: $0) }, version: try r.string("version"),
            edition: try r.string("edition"), tier: try r.string("tier"), installationType: try r.string("installation_type"),
            registryEnabled: try r.bool("registry_enabled"), registryVendor: try r.string("registry_vendor"),
            registryVersion: try r.string("registry_version"), dbEnabled: db, isInternal: isInternal, dataCategories: categories,
            tuple: RollupTuple(edition: try r.string("edition"), tier: try r.string("tier"), installationType: try r.string("installation_type"),
                               versionMajor: try r.int64("version_major").map(Int.init), versionMinor: try r.int64("version_minor").map(Int.init),
                               registryVendor: try r.string("registry_vendor"), isInternal: isInternal, optionalMetrics: PingFacts.optionalMetrics(for: categories)))
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
        /// Pings stored whose `recorded_at` falls on this day (whenever they were received).
        public var recorded: Int64 = 0
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
    static let dailyColumns = ColumnList(["day", "accepted", "duplicates"])
    static let rejectedColumns = ColumnList(["day", "reason", "count"])
    static let quarantineColumns = ColumnList([("entries", "COUNT(*)"), ("bytes", "CAST(COALESCE(SUM(body_size), 0) AS BIGINT)")])
    static let totalsColumns = ColumnList(["stored_bytes", "dropped"])

    static func read(_ e: any SQLExecutor, fromDay: Int64, toDay: Int64) throws(StorageError) -> IngestHealth {
        let op = "reading ingest health"
        var days: [Int64: IngestHealth.Day] = [:]
        let range: [SQLValue] = [.integer(fromDay), .integer(toDay)]
        for r in try dailyColumns.select(e, "FROM ingest_daily WHERE day >= $1 AND day <= $2", range, operation: op) {
            let day = try r.requiredInt64("day")
            days[day] = .init(day: day, accepted: try r.requiredInt64("accepted"), duplicates: try r.requiredInt64("duplicates"), rejected: [:])
        }
        // Counted when quarantined, so the counts outlive entries the cap drops.
        for r in try rejectedColumns.select(e, "FROM rejected_daily WHERE day >= $1 AND day <= $2", range, operation: op) {
            let day = try r.requiredInt64("day")
            var entry = days[day] ?? .init(day: day, accepted: 0, duplicates: 0, rejected: [:])
            entry.rejected[try r.requiredString("reason"), default: 0] &+= try r.requiredInt64("count")
            days[day] = entry
        }
        // By the day the pings describe: from the pings themselves (duplicates are not stored).
        let base = fromDay &* 86_400_000
        let byRecordedDay = ColumnList([("day_offset", "(recorded_at - $1) / 86400000"), ("pings", "COUNT(*)")])
        for r in try byRecordedDay.select(e, "FROM pings WHERE recorded_at >= $1 AND recorded_at < $2 GROUP BY 1",
                                          [.integer(base), .integer((toDay &+ 1) &* 86_400_000)], operation: op) {
            let offset = try r.requiredInt64("day_offset"), count = try r.requiredInt64("pings")
            let day = fromDay + offset
            var entry = days[day] ?? .init(day: day, accepted: 0, duplicates: 0, rejected: [:])
            entry.recorded = count
            days[day] = entry
        }
        let last = try e.optionalScalarInt64("SELECT MAX(last_seen_at) FROM installations", [], operation: op)
        guard let q = try quarantineColumns.select(e, "FROM quarantine", [], operation: op).first,
              let totals = try totalsColumns.select(e, "FROM quarantine_totals WHERE id = 1", [], operation: op).first else {
            throw StorageError(.corrupt, operation: op, reason: "the quarantine totals row is missing")
        }
        var health = IngestHealth(days: days.values.sorted { $0.day < $1.day }, lastPingReceivedAt: last.map { Timestamp(milliseconds: $0) },
                                  quarantined: try q.requiredInt64("entries"), quarantinedBytes: try q.requiredInt64("bytes"))
        health.quarantineStoredBytes = try totals.requiredInt64("stored_bytes")
        health.quarantineDropped = try totals.requiredInt64("dropped")
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
        _ = try writeTransaction("recording a retry") { e throws(StorageError) in
            try e.query("UPDATE quarantine SET retried_at = $2, retry_ping_id = $3 WHERE id = $1",
                        [.integer(quarantineID), .integer(Timestamp.now().milliseconds), .integer(pingID)], operation: "recording a retry")
        }
    }
}
