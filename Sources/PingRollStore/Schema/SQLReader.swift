import PingRollCore

/// Reads with shared SQL through one executor.
struct SQLReader {
    let executor: any SQLExecutor

    static let pingColumns = ColumnList([
        ("id", "p.id"), ("uuid", "i.uuid"), ("hostname", "i.hostname"), ("recorded_at", "p.recorded_at"), ("received_at", "p.received_at"),
        ("version", "p.version"), ("edition", "p.edition"), ("tier", "p.tier"), ("installation_type", "p.installation_type"),
        ("registry_enabled", "p.registry_enabled"), ("registry_vendor", "p.registry_vendor"), ("db_enabled", "p.db_enabled"),
        ("payload_encoding", "p.payload_encoding"), ("payload_size", "p.payload_size"), ("payload", "p.payload"), ("shape_id", "p.shape_id"),
    ])

    func ping(id: Int64) throws(StorageError) -> StoredPing? {
        let op = "reading a ping"
        guard let r = try Self.pingColumns.select(executor, "FROM pings p JOIN installations i ON i.id = p.installation_id WHERE p.id = $1",
                                                 [.integer(id)], operation: op).first else { return nil }
        let stored = try SkeletonReadCache().compressed(r, executor, op)
        let dropped = stored.encoding == CompressedPayload.dropped
        let payload = dropped ? [] : try PayloadCodec.decompress(stored)
        return StoredPing(id: try r.requiredInt64("id"), installation: InstallationKey(uuid: try r.requiredString("uuid"), hostname: try r.string("hostname")),
                          recordedAt: Timestamp(milliseconds: try r.requiredInt64("recorded_at")),
                          receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                          version: try r.string("version"), edition: try r.string("edition"), tier: try r.string("tier"),
                          installationType: try r.string("installation_type"), registryEnabled: try r.bool("registry_enabled"),
                          registryVendor: try r.string("registry_vendor"), dbEnabled: try r.bool("db_enabled"), payload: payload,
                          payloadDropped: dropped)
    }

    static let quarantineColumns = ColumnList([
        "id", "received_at", "route", "status", "reason", "message", "remote_address", "content_type", "content_encoding",
        "body_size", "body_truncated", "body", "body_codec",
    ])

    static var quarantineSelect: String { "SELECT \(quarantineColumns.selectList) FROM quarantine" }

    func quarantine(limit: Int) throws(StorageError) -> [StoredQuarantineEntry] {
        let rows = try executor.query(Self.quarantineSelect + " ORDER BY id DESC LIMIT $1", [.integer(Int64(limit))],
                                      operation: "reading the quarantine")
        return try Self.entries(rows)
    }

    func quarantine(id: Int64) throws(StorageError) -> StoredQuarantineEntry? {
        try Self.entries(try executor.query(Self.quarantineSelect + " WHERE id = $1", [.integer(id)], operation: "reading the quarantine")).first
    }

    static func entries(_ rows: [SQLRow]) throws(StorageError) -> [StoredQuarantineEntry] {
        let op = "reading the quarantine"
        return try rows.map { values throws(StorageError) in
            let r = quarantineColumns.row(values, op)
            var body = try r.value("body").bytes ?? []
            if let codec = try r.string("body_codec") {
                // Bodies are capped at QuarantineRecord.maxBodyBytes before they are stored.
                let size = ZstdFrame.contentSize(body) ?? 0
                guard size <= QuarantineRecord.maxBodyBytes else {
                    throw StorageError(.corrupt, operation: op, reason: "a stored body is larger than any kept")
                }
                body = try PayloadCodec.decompress(CompressedPayload(encoding: codec, originalSize: size, bytes: body))
            }
            var record = QuarantineRecord(receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at")),
                                          route: try r.requiredString("route"), status: Int(try r.requiredInt64("status")),
                                          reason: try r.requiredString("reason"), message: try r.requiredString("message"),
                                          remoteAddress: try r.string("remote_address"), contentType: try r.string("content_type"),
                                          contentEncoding: try r.string("content_encoding"), bodySize: Int(try r.requiredInt64("body_size")),
                                          body: body)
            record.bodyTruncated = try r.bool("body_truncated") ?? false
            return StoredQuarantineEntry(id: try r.requiredInt64("id"), record: record)
        }
    }

    func operationalStatistics() throws(StorageError) -> OperationalStatistics {
        let op = "reading the database's figures"
        let size = executor.dialect == .postgres
            ? "SELECT pg_database_size(current_database())"
            : "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        let columns = ColumnList([("entries", "(SELECT COUNT(*) FROM quarantine)"),
                                  ("bytes", "(SELECT COALESCE(MAX(stored_bytes), 0) FROM quarantine_totals)"),
                                  ("installations", "(SELECT COUNT(*) FROM installations)"),
                                  // The newest ping by id: an index lookup, not a scan.
                                  ("last_received", "(SELECT received_at FROM pings WHERE id = (SELECT MAX(id) FROM pings))")])
        guard let r = try columns.select(executor, "", [], operation: op).first else {
            throw StorageError(.corrupt, operation: op, reason: "the figures answered no row")
        }
        return OperationalStatistics(databaseBytes: try executor.scalarInt64(size, [], operation: op),
                                     quarantineEntries: try r.requiredInt64("entries"), quarantineBytes: try r.requiredInt64("bytes"),
                                     installations: try r.requiredInt64("installations"), lastPingReceivedAt: try r.int64("last_received"))
    }

    static let statisticsColumns = ColumnList(["pings", "installations", "quarantine", "ping_errors", "ping_metadata"].map { ($0, "(SELECT COUNT(*) FROM \($0))") })

    func statistics() throws(StorageError) -> StoreStatistics {
        let op = "counting rows"
        guard let r = try Self.statisticsColumns.select(executor, "", [], operation: op).first else {
            throw StorageError(.corrupt, operation: op, reason: "the count answered no row")
        }
        return StoreStatistics(pings: try r.requiredInt64("pings"), installations: try r.requiredInt64("installations"),
                               quarantined: try r.requiredInt64("quarantine"), pingErrors: try r.requiredInt64("ping_errors"),
                               pingMetadata: try r.requiredInt64("ping_metadata"))
    }
}
