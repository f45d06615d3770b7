import PingRollCore

/// One ping's facts, without its payload (for an installation's page).
public struct PingFactsRecord: Sendable, Equatable {
    public var id: Int64
    public var hostname: String
    public var recordedAt: Timestamp
    public var receivedAt: Timestamp
    public var version: String?
    public var edition: String?
    public var tier: String?
    public var installationType: String?
    public var registryEnabled: Bool?
    public var registryVendor: String?
    public var registryVersion: String?
    /// `container_registry_server.db_enabled` as the catalog reads it (nil: unknown).
    public var dbEnabled: Bool?
    public var payloadDropped: Bool
}

/// What an installation's page shows beside its latest facts.
public protocol InstallationHistoryReading: AnyObject, Sendable {
    /// The uuid's pings (every hostname), newest first, at most `limit`.
    func pingFacts(uuid: String, limit: Int) throws(StorageError) -> [PingFactsRecord]
    /// The uuid's metadata and error reports, newest first, at most `limit` of each kind.
    func clientReports(uuid: String, limit: Int) throws(StorageError) -> (metadata: [StoredClientReport], errors: [StoredClientReport])
    /// The uuid's beta enrollments (any program).
    func enrollments(uuid: String) throws(StorageError) -> [Enrollment]
}

enum InstallationHistorySQL {
    static let columns = ColumnList([
        ("id", "p.id"), ("hostname", "i.hostname"), ("recorded_at", "p.recorded_at"), ("received_at", "p.received_at"), ("version", "p.version"),
        ("edition", "p.edition"), ("tier", "p.tier"), ("installation_type", "p.installation_type"), ("registry_enabled", "p.registry_enabled"),
        ("registry_vendor", "p.registry_vendor"), ("registry_version", "p.registry_version"), ("observations", "p.observations"),
        ("payload_encoding", "p.payload_encoding"),
    ])

    static func pings(_ e: any SQLExecutor, uuid: String, limit: Int) throws(StorageError) -> [PingFactsRecord] {
        try columns.select(e, "FROM pings p JOIN installations i ON i.id = p.installation_id WHERE i.uuid = $1 ORDER BY p.recorded_at DESC, p.id DESC LIMIT $2",
                           [.text(uuid), .integer(Int64(max(1, limit)))], operation: "reading an installation's pings").map { r throws(StorageError) in
            var db: Bool?
            if case .bool(let b)? = ObservationCodec.decode(try r.string("observations") ?? "")["container_registry_server.db_enabled"] { db = b }
            return PingFactsRecord(id: try r.requiredInt64("id"), hostname: try r.requiredString("hostname"),
                                   recordedAt: Timestamp(milliseconds: try r.requiredInt64("recorded_at")),
                                   receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                                   version: try r.string("version"), edition: try r.string("edition"), tier: try r.string("tier"),
                                   installationType: try r.string("installation_type"), registryEnabled: try r.bool("registry_enabled"),
                                   registryVendor: try r.string("registry_vendor"), registryVersion: try r.string("registry_version"),
                                   dbEnabled: db, payloadDropped: try r.requiredString("payload_encoding") == CompressedPayload.dropped)
        }
    }

    static func reports(_ e: any SQLExecutor, uuid: String, limit: Int) throws(StorageError) -> (metadata: [StoredClientReport], errors: [StoredClientReport]) {
        let n = Int64(max(1, limit))
        // A report whose metrics are rows is read as rows; only older ones bring their body.
        let columns = ColumnList([("id", "id"), ("received_at", "received_at"), ("folded", "folded"),
                                  ("body", "CASE WHEN folded = 0 THEN body ELSE '' END")])
        var metadata = try columns.select(e, "FROM ping_metadata WHERE uuid = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
                                          [.text(uuid), .integer(n)], operation: "reading metadata reports").map { r throws(StorageError) in
            var report = StoredClientReport(id: try r.requiredInt64("id"), receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                                            uuid: uuid, version: nil, message: nil, body: try r.requiredString("body"))
            if try r.requiredInt64("folded") != 0 { report.metricEntries = [] }
            return report
        }
        let rows = try ClientReportSQL.metricRows(e, reportIDs: metadata.filter { $0.metricEntries != nil }.map(\.id))
        for i in metadata.indices where metadata[i].metricEntries != nil { metadata[i].metricEntries = rows[metadata[i].id] ?? [] }
        let errors = try ClientReportSQL.errorColumns.select(e, "FROM ping_errors WHERE uuid = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
                                                             [.text(uuid), .integer(n)], operation: "reading error reports").map { r throws(StorageError) in
            StoredClientReport(id: try r.requiredInt64("id"), receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")), uuid: uuid,
                               version: try r.string("version"), message: try r.string("message"), body: try r.requiredString("body"))
        }
        return (metadata, errors)
    }
}

extension SQLBackedStore {
    public func pingFacts(uuid: String, limit: Int) throws(StorageError) -> [PingFactsRecord] {
        try read { e throws(StorageError) in try InstallationHistorySQL.pings(e, uuid: uuid, limit: limit) }
    }

    public func clientReports(uuid: String, limit: Int) throws(StorageError) -> (metadata: [StoredClientReport], errors: [StoredClientReport]) {
        try read { e throws(StorageError) in try InstallationHistorySQL.reports(e, uuid: uuid, limit: limit) }
    }

    public func enrollments(uuid: String) throws(StorageError) -> [Enrollment] {
        try read { e throws(StorageError) in
            try e.query("SELECT \(BetaSQL.enrollmentColumns.selectList) FROM beta_enrollments WHERE uuid = $1 ORDER BY id", [.text(uuid)],
                        operation: "reading enrollments").map { r throws(StorageError) in try BetaSQL.enrollment(r) }
        }
    }
}
