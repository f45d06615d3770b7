import PingRollCore

/// Reads with shared SQL through one executor.
struct SQLReader {
    let executor: any SQLExecutor

    func ping(id: Int64) throws(StorageError) -> StoredPing? {
        let op = "reading a ping"
        let rows = try executor.query("""
            SELECT p.id, i.uuid, i.hostname, p.recorded_at, p.received_at, p.version, p.edition, p.tier,
                   p.installation_type, p.registry_enabled, p.registry_vendor, p.db_enabled,
                   p.payload_encoding, p.payload_size, p.payload
            FROM pings p JOIN installations i ON i.id = p.installation_id WHERE p.id = $1
            """, [.integer(id)], operation: op)
        guard let r = rows.first else { return nil }
        let payload = try PayloadCodec.decompress(CompressedPayload(
            encoding: r[12].string ?? "", originalSize: Int(r[13].int64 ?? 0), bytes: r[14].bytes ?? []))
        return StoredPing(id: r[0].int64 ?? 0, installation: InstallationKey(uuid: r[1].string ?? "", hostname: r[2].string),
                          recordedAt: Timestamp(milliseconds: r[3].int64 ?? 0), receivedAt: Timestamp(milliseconds: r[4].int64 ?? 0),
                          version: r[5].string, edition: r[6].string, tier: r[7].string, installationType: r[8].string,
                          registryEnabled: r[9].bool, registryVendor: r[10].string, dbEnabled: r[11].bool, payload: payload)
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

    func statistics() throws(StorageError) -> StoreStatistics {
        let rows = try executor.query("""
            SELECT (SELECT COUNT(*) FROM pings), (SELECT COUNT(*) FROM installations), (SELECT COUNT(*) FROM quarantine),
                   (SELECT COUNT(*) FROM ping_errors), (SELECT COUNT(*) FROM ping_metadata)
            """, [], operation: "counting rows")
        let r = rows.first ?? []
        func at(_ i: Int) -> Int64 { i < r.count ? r[i].int64 ?? 0 : 0 }
        return StoreStatistics(pings: at(0), installations: at(1), quarantined: at(2), pingErrors: at(3), pingMetadata: at(4))
    }
}
