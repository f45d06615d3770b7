import Foundation
import PingRollCore

/// An online `rollup rebuild` in progress, as stored in `rollup_rebuild` (one row at most).
///
/// The rebuild reads the pings installation by installation in short write transactions and
/// moves `cursor` forward in the same transaction as the cells it adds. Writers fold a new ping
/// of an installation at or below the cursor into the targets' cells as usual, and leave one
/// above it to the rebuild, which reads it when it gets there: every ping is counted once,
/// whichever side of the cursor it lands on.
struct RebuildProgress: Equatable {
    var full: Bool
    /// Key path → definition text of every metric being recomputed.
    var targets: [String: String]
    var cursor: Int64
    var pings: Int64
    /// Which run is doing the work: a run whose row was taken over stops.
    var owner: String
    var startedAt: Int64
    var heartbeatAt: Int64
    /// Set by a writer that had to leave a target out because its catalog defines it differently.
    var diverged: String?

    /// A rebuild whose heartbeat is younger than this is taken to be running.
    static let liveWindowMs: Int64 = 60_000
    /// Where the cursor starts: below every installation id.
    static let start = Int64.min

    static let columns = ColumnList(["full_rebuild", "targets", "cursor", "pings", "owner", "started_at", "heartbeat_at", "diverged"])

    static func load(_ executor: any SQLExecutor) throws(StorageError) -> RebuildProgress? {
        guard let r = try columns.select(executor, "FROM rollup_rebuild WHERE id = 1", [], operation: "reading the rebuild progress").first else { return nil }
        let text = try r.requiredString("targets")
        guard let targets = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else {
            throw StorageError(.corrupt, operation: "reading the rebuild progress", reason: "the rebuild's target list does not decode")
        }
        return RebuildProgress(full: try r.requiredInt64("full_rebuild") != 0, targets: targets, cursor: try r.requiredInt64("cursor"),
                               pings: try r.requiredInt64("pings"), owner: try r.requiredString("owner"),
                               startedAt: try r.requiredInt64("started_at"), heartbeatAt: try r.requiredInt64("heartbeat_at"),
                               diverged: try r.string("diverged"))
    }

    func insert(_ executor: any SQLExecutor) throws(StorageError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // A [String: String] always encodes.
        let text = String(decoding: (try? encoder.encode(targets)) ?? Data("{}".utf8), as: UTF8.self)
        try executor.query("DELETE FROM rollup_rebuild", [], operation: "starting a rollup rebuild")
        try executor.query("""
            INSERT INTO rollup_rebuild (id, full_rebuild, targets, cursor, pings, owner, started_at, heartbeat_at)
            VALUES (1, $1, $2, $3, $4, $5, $6, $7)
            """, [.integer(full ? 1 : 0), .text(text), .integer(cursor), .integer(pings), .text(owner), .integer(startedAt), .integer(heartbeatAt)],
            operation: "starting a rollup rebuild")
    }

    /// The names the rebuild recomputes, `(installations)` first for a full one.
    var names: [String] { (full ? [RollupState.installationsName] : []) + targets.keys.sorted() }

    var summary: String {
        "\(full ? "a full rebuild" : "a rebuild of \(targets.keys.sorted().joined(separator: ", "))"), started \(Timestamp(milliseconds: startedAt)), \(pings) pings in"
    }
}

/// What a backend gives the rebuild and verification.
protocol RollupRebuildHost: SQLBackedStore {
    /// Runs `body` in a write transaction that no write batch runs beside (SQLite's single
    /// writer; on PostgreSQL the exclusive side of the lock every batch holds shared).
    func rollupTransaction<T: Sendable>(_ operation: String, _ body: (any SQLExecutor, TupleRegistry) throws(StorageError) -> T) throws(StorageError) -> T
    /// Runs `body` in one read-only snapshot.
    func snapshot<T: Sendable>(_ operation: String, _ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T
    /// Runs `body`, a read of the whole history, with the store's memory tuned for it.
    func scanning<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T
}

extension RollupRebuildHost {
    func requiredCatalog() throws(StorageError) -> MetricCatalog {
        guard let catalog else { throw StorageError(.other, operation: "using rollups", reason: "no metric catalog was given") }
        return catalog
    }

    public func prepareRollups() throws(StorageError) -> [String] {
        guard let catalog else { return [] }
        return try rollupTransaction("preparing rollups") { e, _ throws(StorageError) in
            let state = try RollupState.prepare(e, catalog: catalog)
            // A metric new or changed while pings exist: say so on the time axis, once per definition.
            for name in state.staleNames where name != RollupState.installationsName {
                guard let m = catalog.metric(name) else { continue }
                try AnnotationSQL.record(e, Annotation(at: .now(), kind: .catalog, text: "\(name) added to or changed in the catalog; counted once rebuilt",
                                                       metric: name),
                                         key: "catalog:\(name):\(Digest.sha256Hex(Array(m.definitionText.utf8)).prefix(16))")
            }
            return state.staleNames + (state.rebuild?.names ?? [])
        }
    }

    public func rebuildRollups(metrics: [String]?, chunkPings: Int, progress: (@Sendable (Int) -> Void)?,
                               stop: (@Sendable () -> Bool)?) throws(StorageError) -> RollupRebuildReport {
        try scanning { () throws(StorageError) in try rebuild(metrics: metrics, chunkPings: chunkPings, progress: progress, stop: stop) }
    }

    private func rebuild(metrics: [String]?, chunkPings: Int, progress: (@Sendable (Int) -> Void)?,
                         stop: (@Sendable () -> Bool)?) throws(StorageError) -> RollupRebuildReport {
        let catalog = try requiredCatalog()
        let op = "rebuilding rollups"
        let full = metrics == nil
        var plan: [MetricDefinition] = []
        for key in metrics ?? catalog.metrics.map(\.keyPath) where !plan.contains(where: { $0.keyPath == key }) {
            guard let m = catalog.metric(key) else { throw StorageError(.other, operation: op, reason: "`\(key)` is not in the catalog") }
            plan.append(m)
        }
        let targets = Dictionary(plan.map { ($0.keyPath, $0.definitionText) }, uniquingKeysWith: { a, _ in a })
        let owner = "\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 1...UInt64.max))"
        // Each transaction reads about 100 ms worth of pings (at most `chunkPings`).
        var pacing = WriterPacing(initial: 8, maxSize: max(1, chunkPings), contended: otherWritersActive)

        // Start, or continue a rebuild of the same metrics that an earlier run left unfinished.
        let begun = try rollupTransaction("starting a rollup rebuild") { e, _ throws(StorageError) -> (resumed: Bool, pings: Int64) in
            let now = Timestamp.now().milliseconds
            if let current = try RebuildProgress.load(e) {
                if now &- current.heartbeatAt < RebuildProgress.liveWindowMs {
                    throw StorageError(.busy, operation: op, reason: "another rollup rebuild is running (\(current.summary)); wait for it to finish, or for a minute after it stopped")
                }
                if current.full == full && current.targets == targets {
                    try e.query("UPDATE rollup_rebuild SET owner = $1, heartbeat_at = $2 WHERE id = 1", [.text(owner), .integer(now)], operation: op)
                    return (true, current.pings)
                }
                // Another unfinished rebuild is abandoned: its metrics stay stale until rebuilt.
            }
            if full {
                for table in ["rollup_cells", "rollup_string_values", "rollup_latest", "rollup_metrics"] {
                    try e.query("DELETE FROM \(table)", [], operation: op)
                }
            } else {
                for m in plan {
                    for table in ["rollup_cells", "rollup_string_values", "rollup_metrics"] {
                        try e.query("DELETE FROM \(table) WHERE metric = $1", [.text(m.keyPath)], operation: op)
                    }
                }
            }
            try RebuildProgress(full: full, targets: targets, cursor: RebuildProgress.start, pings: 0, owner: owner,
                                startedAt: now, heartbeatAt: now, diverged: nil).insert(e)
            return (false, 0)
        }

        var report = RollupRebuildReport(pings: Int(clamping: begun.pings), cells: 0, metrics: plan.map(\.keyPath), unreadablePayloads: 0,
                                         resumed: begun.resumed, transactions: 1)
        let skeletons = SkeletonReadCache(maxBytes: SkeletonReadCache.scanBytes)
        while true {
            let step = try pacing.step { chunk throws(StorageError) in try rollupTransaction(op) { e, tuples throws(StorageError) -> ((RollupRecompute.Report, String?, Int), units: Int) in
                guard let current = try RebuildProgress.load(e), current.owner == owner else {
                    throw StorageError(.other, operation: op, reason: "another run took this rebuild over; it continues there")
                }
                let recompute = RollupRecompute(catalog: catalog, metrics: plan, includeInstallations: full,
                                                admission: StringAdmission(executor: e, readOnly: false),
                                                mode: full ? .full : .metrics, skeletons: skeletons)
                var cells = CompactCells(metrics: plan)
                var latest: [RollupSQL.LatestEntry] = []
                let read = try recompute.run(e, after: current.cursor, limit: chunk, into: &cells, latest: &latest)
                try RollupSQL.upsert(cells.expanded(), e, tuples: tuples, operation: op)
                let cursor = read.lastInstallation ?? current.cursor
                if full {
                    try RollupSQL.upsertLatest(latest, e, operation: op)
                    if cursor > current.cursor {
                        // Installations carry the facts of their latest ping.
                        try e.query("""
                            UPDATE installations SET (\(SQLWriter.factColumnList)) = (
                                SELECT \(SQLWriter.factColumnList) FROM pings p
                                WHERE p.id = installations.latest_ping_id AND p.recorded_at = installations.latest_recorded_at)
                            WHERE latest_ping_id IS NOT NULL AND id > $1 AND id <= $2
                            """, [.integer(current.cursor), .integer(cursor)], operation: op)
                    }
                }
                guard read.finished else {
                    try e.query("UPDATE rollup_rebuild SET cursor = $1, pings = pings + $2, heartbeat_at = $3 WHERE id = 1",
                                [.integer(cursor), .integer(Int64(read.pings)), .integer(Timestamp.now().milliseconds)], operation: op)
                    return ((read, nil, 0), read.pings)
                }
                try e.query("DELETE FROM rollup_rebuild", [], operation: op)
                if let diverged = current.diverged {
                    // The targets stay unbuilt (stale): their cells miss what that writer left out.
                    return ((read, diverged, 0), read.pings)
                }
                try RollupState.markBuilt(e, metrics: plan, installations: full)
                let what = full ? "full rollup rebuild" : "rollup rebuild of \(plan.map(\.keyPath).joined(separator: ", "))"
                try AnnotationSQL.record(e, Annotation(at: .now(), kind: .catalog, text: "\(what) finished (\(current.pings + Int64(read.pings)) pings)",
                                                       metric: full || plan.count != 1 ? nil : plan[0].keyPath), key: "rebuilt:\(owner)")
                let names = (full ? [CellKey.installationsMetric] : []) + plan.map(\.keyPath)
                let list = names.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
                let cellCount = try e.scalarInt64("SELECT COUNT(*) FROM rollup_cells WHERE metric IN (\(list))", names.map { .text($0) }, operation: op)
                return ((read, nil, Int(clamping: cellCount)), read.pings)
            } }
            report.transactions += 1
            report.longestHold = pacing.longest
            report.pings += step.0.pings
            report.unreadablePayloads += step.0.unreadablePayloads
            report.droppedPayloads += step.0.droppedPayloads
            for (kind, starts) in step.0.storedOnlyPeriods { report.storedOnlyPeriods[kind, default: []].formUnion(starts) }
            progress?(report.pings)
            if let diverged = step.1 {
                throw StorageError(.other, operation: op, reason: """
                    while this rebuild ran, a pingroll whose catalog defines \(diverged) differently stored pings and could not fold them; \
                    restart every serving pingroll with this catalog and run the rebuild again
                    """)
            }
            if step.0.finished {
                report.cells = step.2
                return report
            }
            if stop?() == true {
                // Stopped on purpose: the next run may continue at once.
                _ = try rollupTransaction(op) { e, _ throws(StorageError) in
                    try e.query("UPDATE rollup_rebuild SET heartbeat_at = 0 WHERE id = 1 AND owner = $1", [.text(owner)], operation: op)
                }
                report.stopped = true
                return report
            }
        }
    }

    public func verifyRollups(progress: (@Sendable (Int) -> Void)?) throws(StorageError) -> RollupVerification {
        let catalog = try requiredCatalog()
        return try scanning { () throws(StorageError) in try verify(catalog: catalog, progress: progress) }
    }

    private func verify(catalog: MetricCatalog, progress: (@Sendable (Int) -> Void)?) throws(StorageError) -> RollupVerification {
        try snapshot("verifying rollups") { e throws(StorageError) in
            let state = try RollupState.load(e, catalog: catalog)
            // The installation counts are checked unless a full rebuild is still recomputing them.
            let installations = state.rebuild?.full != true
            let recompute = RollupRecompute(catalog: catalog, metrics: state.active, includeInstallations: installations,
                                            admission: StringAdmission(executor: e, readOnly: true), mode: .verify)
            var expected = CompactCells(metrics: state.active)
            var latest: [RollupSQL.LatestEntry] = []
            let read = try recompute.run(e, after: RebuildProgress.start, limit: nil, into: &expected, latest: &latest, progress: progress)
            expected.dropZeros()
            // The live cells are read a page at a time and checked off against the expected ones.
            var differences: [RollupVerification.Difference] = []
            var checked = expected.count
            for metric in (installations ? [CellKey.installationsMetric] : []) + state.active.map(\.keyPath) {
                try RollupSQL.forEachCell(e, metric: metric) { key, value throws(StorageError) in
                    let want = expected.key(of: key).flatMap { expected.removeValue(forKey: $0) }
                    if want == nil { checked += 1 }
                    if want != value { differences.append(.init(key: key, live: value, expected: want)) }
                }
            }
            for (key, value) in expected.values { differences.append(.init(key: expected.cellKey(key), live: nil, expected: value)) }
            differences.sort { $0.key < $1.key }
            return RollupVerification(pings: read.pings, cellsChecked: checked, differences: differences,
                                      stale: state.staleNames, rebuilding: state.rebuild?.names ?? [])
        }
    }
}
