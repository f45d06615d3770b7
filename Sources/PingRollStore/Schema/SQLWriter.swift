import PingRollCore

/// Writes items with shared SQL through one executor, inside a transaction the caller opened.
struct SQLWriter {
    let executor: any SQLExecutor
    /// Keeps the rollups in step; nil when the store runs without a catalog.
    let rollups: RollupMaintainer?
    /// Skeleton ids of `shape-zstd` payloads.
    let shapes: ShapeRegistry
    /// Pings accepted and duplicates per day of receipt, written once per batch by `flush`.
    let counts = IngestCounts()
    /// Watches for gaps in ingest across batches (nil: not watched).
    let gaps: IngestGapWatch?

    /// Quarantine entries kept, in stored bytes; past it the oldest entries are dropped.
    let quarantineMaxBytes: Int64

    init(executor: any SQLExecutor, rollups: RollupMaintainer?, shapes: ShapeRegistry,
         quarantineMaxBytes: Int64 = QuarantineRecord.defaultMaxStoredBytes, gaps: IngestGapWatch? = nil) {
        self.gaps = gaps
        self.executor = executor
        self.rollups = rollups
        self.shapes = shapes
        self.quarantineMaxBytes = quarantineMaxBytes
    }

    /// Writes what the batch accumulated (rollup deltas, daily counts); call before commit.
    func flush() throws(StorageError) {
        try rollups?.flush()
        // The first ping from a GitLab major.minor writes a `release` annotation, once (one
        // statement per version in the batch, none when the key exists).
        for (version, at) in counts.versions.sorted(by: { $0.key < $1.key }) {
            try AnnotationSQL.record(executor, Annotation(at: Timestamp(milliseconds: at), kind: .release, text: "first ping from \(version)", metric: nil),
                                     key: "release:\(version)")
        }
        counts.versions.removeAll()
        if let gaps, let first = counts.firstReceived, let last = counts.lastReceived, let id = counts.firstID {
            try gaps.batch(executor, earliest: first, latest: last, firstID: id)
        }
        counts.firstReceived = nil
        counts.lastReceived = nil
        counts.firstID = nil
        for (day, (accepted, duplicates)) in counts.days.sorted(by: { $0.key < $1.key }) {
            try executor.query("""
                INSERT INTO ingest_daily (day, accepted, duplicates) VALUES ($1, $2, $3)
                ON CONFLICT (day) DO UPDATE SET accepted = ingest_daily.accepted + excluded.accepted,
                                                duplicates = ingest_daily.duplicates + excluded.duplicates
                """, [.integer(day), .integer(accepted), .integer(duplicates)], operation: "counting pings")
        }
        counts.days.removeAll()
    }

    func write(_ item: WriteItem) throws(StorageError) -> WriteOutcome {
        switch item {
        case .ping(let ping): try writePing(ping)
        case .quarantine(let q): try writeQuarantine(q)
        case .clientReport(let r): try writeReport(r)
        }
    }

    private func writePing(_ ping: PingRecord) throws(StorageError) -> WriteOutcome {
        let op = "storing a ping"
        let f = ping.facts
        let upserted = try executor.query("""
            INSERT INTO installations (uuid, hostname, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)
            ON CONFLICT (uuid, hostname) DO UPDATE SET last_seen_at = CASE
                WHEN excluded.last_seen_at > installations.last_seen_at THEN excluded.last_seen_at
                ELSE installations.last_seen_at END
            RETURNING \(Self.upsertReturns.selectList)
            """, [.text(f.installation.uuid), .text(f.installation.hostname), .integer(ping.receivedAt.milliseconds)], operation: op)
        guard let installation = upserted.first.map({ Self.upsertReturns.row($0, op) }) else {
            throw StorageError(.other, operation: op, reason: "the installation upsert returned no row")
        }
        let installationID = try installation.requiredInt64("id")
        let latestRecordedAt = try installation.int64("latest_recorded_at")
        let facts = Self.factValues(f)
        let shapeID = SQLValue(try shapes.id(for: ping.payload, executor))
        let inserted = try executor.optionalScalarInt64(Self.insertPing, [.integer(installationID), .integer(f.recordedAt.milliseconds), .integer(ping.receivedAt.milliseconds)]
                + facts + [.text(ping.payload.encoding), .integer(Int64(ping.payload.originalSize)), .blob(ping.payload.bytes),
                   .text(ObservationCodec.encode(f.observations)), shapeID],
            operation: op)
        guard let pingID = inserted else {
            guard let id = try executor.optionalScalarInt64("SELECT id FROM pings WHERE installation_id = $1 AND recorded_at = $2",
                                                            [.integer(installationID), .integer(f.recordedAt.milliseconds)], operation: op) else {
                throw StorageError(.other, operation: op, reason: "a conflicting ping could not be found")
            }
            counts.add(day: ping.receivedAt, duplicate: true)
            return .duplicate(id: id)
        }
        // Latest by recorded_at; on a tie the ping received last wins.
        if latestRecordedAt.map({ f.recordedAt.milliseconds >= $0 }) ?? true {
            try executor.query(Self.updateInstallationFacts,
                               [.integer(installationID), .integer(pingID), .integer(f.recordedAt.milliseconds)] + facts, operation: op)
        }
        try rollups?.fold(pingID: pingID, installationID: installationID, recordedAt: f.recordedAt, tuple: RollupTuple(f),
                          observations: f.observations)
        counts.add(day: ping.receivedAt, duplicate: false)
        if let v = f.parsedVersion {
            let key = "\(v.major).\(v.minor)"
            counts.versions[key] = min(counts.versions[key] ?? f.recordedAt.milliseconds, f.recordedAt.milliseconds)
        }
        counts.firstReceived = min(counts.firstReceived ?? ping.receivedAt.milliseconds, ping.receivedAt.milliseconds)
        counts.firstID = min(counts.firstID ?? pingID, pingID)
        counts.lastReceived = max(counts.lastReceived ?? ping.receivedAt.milliseconds, ping.receivedAt.milliseconds)
        return .stored(id: pingID)
    }

    /// Stores a rejected body zstd-compressed, counts the rejection for its day, and drops the
    /// oldest entries while the quarantine holds more than `quarantineMaxBytes`.
    private func writeQuarantine(_ q: QuarantineRecord) throws(StorageError) -> WriteOutcome {
        let op = "quarantining a body"
        let fingerprint = q.unique ? Self.fingerprint(q) : nil
        if let fingerprint, let existing = try executor.optionalScalarInt64("SELECT id FROM quarantine WHERE fingerprint = $1",
                                                                              [.text(fingerprint)], operation: op) {
            return .recorded(id: existing)
        }
        let compressed = PayloadCodec.compress(q.body)
        let storedSize = Int64(compressed.bytes.count) + QuarantineRecord.rowOverheadBytes
        let id = try executor.scalarInt64("""
            INSERT INTO quarantine (received_at, route, status, reason, message, remote_address, content_type,
                                    content_encoding, body_size, body_truncated, body, body_codec, stored_size, fingerprint)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id
            """, [.integer(q.receivedAt.milliseconds), .text(q.route.replacingNUL()), .integer(Int64(q.status)), .text(q.reason),
                  .text(q.message.replacingNUL()), SQLValue(q.remoteAddress?.replacingNUL()), SQLValue(q.contentType?.replacingNUL()),
                  SQLValue(q.contentEncoding?.replacingNUL()), .integer(Int64(q.bodySize)), SQLValue(q.bodyTruncated),
                  .blob(compressed.bytes), .text(compressed.encoding), .integer(storedSize), SQLValue(fingerprint)],
            operation: op)
        try executor.query("""
            INSERT INTO rejected_daily (day, reason, count) VALUES ($1, $2, 1)
            ON CONFLICT (day, reason) DO UPDATE SET count = rejected_daily.count + 1
            """, [.integer(PeriodKind.day.start(of: q.receivedAt)), .text(q.reason)], operation: op)
        let total = try executor.scalarInt64("UPDATE quarantine_totals SET stored_bytes = stored_bytes + $1 WHERE id = 1 RETURNING stored_bytes",
                                             [.integer(storedSize)], operation: op)
        try trimQuarantine(total: total, keeping: id)
        return .recorded(id: id)
    }

    /// SHA-256 of the entry's route, message and body, hex.
    static func fingerprint(_ q: QuarantineRecord) -> String {
        var bytes = Array(q.route.utf8) + [0] + Array(q.message.utf8) + [0]
        bytes += q.body
        return Digest.sha256Hex(bytes)
    }

    /// Drops the oldest quarantine entries (never `newest`) until `total`, the stored bytes now,
    /// fits the cap.
    private func trimQuarantine(total: Int64, keeping newest: Int64) throws(StorageError) {
        let op = "trimming the quarantine"
        var total = total
        while total > quarantineMaxBytes {
            let oldest = try Self.trimColumns.select(executor, "FROM quarantine WHERE id < $1 ORDER BY id LIMIT 256",
                                                     [.integer(newest)], operation: op)
            guard !oldest.isEmpty else { return }
            var lastID: Int64 = 0, freed: Int64 = 0, dropped: Int64 = 0
            for r in oldest {
                lastID = try r.requiredInt64("id")
                // Entries stored before stored_size was kept count their overhead only.
                freed += try r.int64("stored_size") ?? QuarantineRecord.rowOverheadBytes
                dropped += 1
                if total - freed <= quarantineMaxBytes { break }
            }
            try executor.query("DELETE FROM quarantine WHERE id <= $1", [.integer(lastID)], operation: op)
            try executor.query("""
                UPDATE quarantine_totals SET stored_bytes = stored_bytes - $1, dropped = dropped + $2, dropped_bytes = dropped_bytes + $1
                WHERE id = 1
                """, [.integer(freed), .integer(dropped)], operation: op)
            total -= freed
        }
    }

    private func writeReport(_ r: ClientReport) throws(StorageError) -> WriteOutcome {
        let id: Int64
        switch r.kind {
        case .error:
            id = try executor.scalarInt64("""
                INSERT INTO ping_errors (received_at, uuid, hostname, version, message, elapsed, remote_address, body)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
                """, [.integer(r.receivedAt.milliseconds), SQLValue(r.uuid), SQLValue(r.hostname), SQLValue(r.version),
                      SQLValue(r.message), SQLValue(r.elapsed), SQLValue(r.remoteAddress), .text(r.body)],
                operation: "storing a ping error report")
        case .metadata:
            id = try executor.scalarInt64("""
                INSERT INTO ping_metadata (received_at, uuid, metric_count, remote_address, body, folded)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                """, [.integer(r.receivedAt.milliseconds), SQLValue(r.uuid), SQLValue(r.metricCount),
                      SQLValue(r.remoteAddress), .text(r.body), .integer(r.metricEntries == nil ? 0 : 1)],
                operation: "storing ping metadata")
            if let entries = r.metricEntries { try writeMetricRows(entries, report: id) }
        }
        return .recorded(id: id)
    }

    /// A metadata report's metrics, `rowsPerStatement` to an INSERT (the rest one by one).
    private func writeMetricRows(_ entries: [MetadataEntries.Entry], report id: Int64) throws(StorageError) {
        let op = "storing a metadata report's metrics"
        func values(_ e: MetadataEntries.Entry) -> [SQLValue] {
            [.integer(id), .text(e.name), .integer(e.failed ? 1 : 0), e.elapsed.map { .real($0) } ?? .null]
        }
        var start = 0
        while entries.count - start >= Self.rowsPerStatement {
            try executor.query(Self.metricRowsInsert, entries[start..<(start + Self.rowsPerStatement)].flatMap(values), operation: op)
            start += Self.rowsPerStatement
        }
        for e in entries[start...] {
            try executor.query("INSERT INTO metadata_metrics (report_id, name, failed, elapsed) VALUES ($1, $2, $3, $4)", values(e), operation: op)
        }
    }

    static let rowsPerStatement = 64
    static let metricRowsInsert = "INSERT INTO metadata_metrics (report_id, name, failed, elapsed) VALUES "
        + (0..<rowsPerStatement).map { i in "($\(4 * i + 1), $\(4 * i + 2), $\(4 * i + 3), $\(4 * i + 4))" }.joined(separator: ", ")

    static let upsertReturns = ColumnList(["id", "latest_recorded_at"])
    static let trimColumns = ColumnList(["id", "stored_size"])

    /// The fact columns `pings` and `installations` share, in `factValues` order.
    static let factColumns = [
        "version", "version_major", "version_minor", "version_patch", "ee", "edition", "tier", "installation_type",
        "active_user_count", "registry_enabled", "registry_vendor", "registry_version", "db_enabled", "internal", "data_categories",
    ]

    static let factColumnList = factColumns.joined(separator: ", ")

    /// `column = $n, …` for the fact columns, numbering their placeholders from `first`.
    static func factAssignments(from first: Int) -> String {
        factColumns.enumerated().map { "\($1) = $\(first + $0)" }.joined(separator: ", ")
    }

    /// Installation id, recorded_at and received_at, the facts, then the payload, observations and shape.
    static let insertPing = """
        INSERT INTO pings (installation_id, recorded_at, received_at, \(factColumnList), payload_encoding, payload_size, payload, observations, shape_id)
        VALUES (\((1...(3 + factColumns.count + 5)).map { "$\($0)" }.joined(separator: ", ")))
        ON CONFLICT (installation_id, recorded_at) DO NOTHING
        RETURNING id
        """

    /// An installation takes the facts of its new latest ping ($1 the installation, $2 and $3 the ping).
    static let updateInstallationFacts = """
        UPDATE installations SET latest_ping_id = $2, latest_recorded_at = $3, \(factAssignments(from: 4)) WHERE id = $1
        """

    /// The 15 fact values in `factColumnList` order.
    static func factValues(_ f: PingFacts) -> [SQLValue] {
        [SQLValue(f.version), SQLValue(f.parsedVersion?.major), SQLValue(f.parsedVersion?.minor),
         SQLValue(f.parsedVersion?.patch), SQLValue(f.isEE), SQLValue(f.edition), SQLValue(f.tier?.rawValue),
         SQLValue(f.installationType), SQLValue(f.activeUserCount), SQLValue(f.registryEnabled),
         SQLValue(f.registryVendor), SQLValue(f.registryVersion), SQLValue(f.dbEnabled), SQLValue(f.isInternal),
         SQLValue(f.dataCategoriesText)]
    }
}

/// Per-day counters of one write batch.
final class IngestCounts {
    var days: [Int64: (Int64, Int64)] = [:]
    /// The batch's GitLab versions (major.minor) with the earliest recorded_at of each.
    var versions: [String: Int64] = [:]
    /// Receipt times and the first id of the pings the batch stored.
    var firstReceived: Int64?
    var lastReceived: Int64?
    var firstID: Int64?

    func add(day receivedAt: Timestamp, duplicate: Bool) {
        let day = PeriodKind.day.start(of: receivedAt)
        var (accepted, duplicates) = days[day] ?? (0, 0)
        if duplicate { duplicates += 1 } else { accepted += 1 }
        days[day] = (accepted, duplicates)
    }
}
