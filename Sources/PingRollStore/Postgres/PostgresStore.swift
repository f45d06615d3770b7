import Foundation
import Glibc
import PingRollCore
import Synchronization

/// The server store: PostgreSQL through libpq, shared by several `pingroll serve` processes.
///
/// Several collectors keep the rollups exact with advisory locks, taken in every write
/// transaction in one global order: a shared lock that only `rollup rebuild` takes exclusively,
/// then one lock per installation of the batch (sorted), so pings of one installation are folded
/// one transaction at a time — dedupe and the latest-ping bookkeeping see each other's commits.
/// Cell deltas are applied with `ON CONFLICT ... DO UPDATE SET count = count + excluded.count`
/// in sorted key order, so concurrent batches never deadlock on cell rows. Raw pings are
/// partitioned by month.
public final class PostgresStore: RollupRebuildHost {
    /// The catalog rollups are maintained for; `replaceCatalog` swaps it while serving (each
    /// write batch reads it once).
    public var catalog: MetricCatalog? { catalogHolder.withLock { $0 } }
    private let catalogHolder: Mutex<MetricCatalog?>
    public let quarantineMaxBytes: Int64
    private let pool: PostgresPool
    private let tuples = TupleRegistry()
    private let shapes = ShapeRegistry()
    private let gaps = IngestGapWatch()
    private let tuplesLock = Mutex(())
    private let partitions = Mutex(Set<Int64>())

    static let globalLock: Int64 = 0x7069_6E67_726F_6C6C  // "pingroll"
    static let migrationLock: Int64 = 0x7069_6E67_6D69_6772
    static let partitionLock: Int64 = 0x7069_6E67_7061_7274

    /// Opens a pool for `url` (`postgres://` or `postgresql://`, any libpq URL) and checks that
    /// the server answers.
    /// - Parameter quarantineMaxBytes: the quarantine's cap in stored bytes (oldest entries go first).
    public init(url: String, catalog: MetricCatalog? = nil, poolSize: Int = 4,
                quarantineMaxBytes: Int64 = QuarantineRecord.defaultMaxStoredBytes) throws(StorageError) {
        catalogHolder = Mutex(catalog)
        self.quarantineMaxBytes = quarantineMaxBytes
        pool = PostgresPool(url: url, size: poolSize)
        try checkReadiness()
    }

    public func migrate() throws(StorageError) -> [MigrationState] {
        try pool.with { conn throws(StorageError) in try Self.runner(conn).migrate() }
    }

    public func migrationStatus() throws(StorageError) -> [MigrationState] {
        try pool.with { conn throws(StorageError) in try Self.runner(conn).status() }
    }

    static func runner(_ conn: PostgresConnection) -> MigrationRunner {
        MigrationRunner(executor: conn) { operation, body throws(StorageError) in
            try conn.transaction(operation: operation) { () throws(StorageError) in
                try conn.query("SELECT pg_advisory_xact_lock($1)", [.integer(migrationLock)], operation: operation)
                try body()
            }
        }
    }

    public func write(_ items: [WriteItem]) throws(StorageError) -> [WriteOutcome] {
        try pool.with { conn throws(StorageError) in
            try ensurePartitions(for: items, conn)
            var attempt = 0
            while true {
                attempt += 1
                do throws(StorageError) {
                    return try writeOnce(items, conn)
                } catch where error.kind == .busy && attempt < 8 {
                    // A deadlock or serialization failure: the whole batch is retried after a short,
                    // growing pause so that the other writer can finish.
                    usleep(UInt32(1_000 * attempt * attempt))
                    continue
                }
            }
        }
    }

    private func writeOnce(_ items: [WriteItem], _ conn: PostgresConnection) throws(StorageError) -> [WriteOutcome] {
        let op = "storing a write batch"
        return try tuplesLock.withLock { _ throws(StorageError) in
            do throws(StorageError) {
                return try conn.transaction(operation: op) { () throws(StorageError) in
                    try conn.query("SELECT pg_advisory_xact_lock_shared($1)", [.integer(Self.globalLock)], operation: op)
                    // Held shared by every batch and exclusively while a partition is created, so that
                    // creating a month's partition never interleaves with a batch inserting into pings.
                    try conn.query("SELECT pg_advisory_xact_lock_shared($1)", [.integer(Self.partitionLock)], operation: op)
                    let keys = Set(items.compactMap { item -> String? in
                        if case .ping(let p) = item { return "\(p.facts.installation.uuid)\n\(p.facts.installation.hostname)" }
                        return nil
                    }).sorted()
                    for key in keys {
                        try conn.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [.text(key)], operation: op)
                    }
                    let rollups = try self.catalog.map { c throws(StorageError) in try RollupMaintainer(executor: conn, catalog: c, tuples: tuples) }
                    rollups?.reserve(pings: items.count)
                    let writer = SQLWriter(executor: conn, rollups: rollups, shapes: shapes, quarantineMaxBytes: quarantineMaxBytes, gaps: gaps)
                    var outcomes: [WriteOutcome] = []
                    outcomes.reserveCapacity(items.count)
                    for item in items { outcomes.append(try writer.write(item)) }
                    try writer.flush()
                    return outcomes
                }
            } catch {
                tuples.reset()
                shapes.reset()
                throw error
            }
        }
    }

    /// Creates the monthly partitions the batch's pings need (each in its own short transaction).
    private func ensurePartitions(for items: [WriteItem], _ conn: PostgresConnection) throws(StorageError) {
        let months = Set(items.compactMap { item -> Int64? in
            if case .ping(let p) = item { return PeriodKind.month.start(of: p.facts.recordedAt) }
            return nil
        })
        let known = partitions.withLock { $0 }
        for month in months.subtracting(known).sorted() {
            let next = PeriodKind.month.next(after: month)
            let name = "pings_p" + isoDate(days: month).prefix(7).replacingOccurrences(of: "-", with: "")
            let op = "creating the ping partition \(name)"
            try conn.transaction(operation: op) { () throws(StorageError) in
                try conn.query("SELECT pg_advisory_xact_lock($1)", [.integer(Self.partitionLock)], operation: op)
                try conn.execute("""
                    CREATE TABLE IF NOT EXISTS \(name) PARTITION OF pings FOR VALUES FROM (\(month * 86_400_000)) TO (\(next * 86_400_000));
                    ALTER TABLE \(name) ALTER COLUMN payload SET STORAGE EXTERNAL
                    """, operation: op)
            }
            partitions.withLock { _ = $0.insert(month) }
        }
    }

    public func checkReadiness() throws(StorageError) {
        _ = try pool.with { conn throws(StorageError) in
            try conn.query("SELECT 1", [], operation: "checking the database")
        }
    }

    /// Runs SQL as written (for benchmarks and tools that cross-check the store).
    public func rawQuery(_ sql: String, _ parameters: [SQLValue]) throws(StorageError) -> [SQLRow] {
        try read { e throws(StorageError) in try e.query(sql, parameters, operation: "running a raw query") }
    }

    public func ping(id: Int64) throws(StorageError) -> StoredPing? {
        try pool.with { conn throws(StorageError) in try SQLReader(executor: conn).ping(id: id) }
    }

    public func quarantine(limit: Int) throws(StorageError) -> [StoredQuarantineEntry] {
        try pool.with { conn throws(StorageError) in try SQLReader(executor: conn).quarantine(limit: limit) }
    }

    public func operationalStatistics() throws(StorageError) -> OperationalStatistics {
        try pool.with { conn throws(StorageError) in try SQLReader(executor: conn).operationalStatistics() }
    }

    public func statistics() throws(StorageError) -> StoreStatistics {
        try pool.with { conn throws(StorageError) in try SQLReader(executor: conn).statistics() }
    }

    func rollupTransaction<T: Sendable>(_ operation: String, _ body: (any SQLExecutor, TupleRegistry) throws(StorageError) -> T) throws(StorageError) -> T {
        try pool.with { conn throws(StorageError) in
            try tuplesLock.withLock { _ throws(StorageError) in
                do throws(StorageError) {
                    return try conn.transaction(operation: operation) { () throws(StorageError) in
                        // Exclusive: waits for in-flight write batches and holds new ones back.
                        try conn.query("SELECT pg_advisory_xact_lock($1)", [.integer(Self.globalLock)], operation: operation)
                        return try body(conn, tuples)
                    }
                } catch {
                    tuples.reset()
                    throw error
                }
            }
        }
    }

    func scanning<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T { try body() }

    func snapshot<T: Sendable>(_ operation: String, _ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T {
        try pool.with { conn throws(StorageError) in
            try conn.transaction(operation: operation, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { () throws(StorageError) in try body(conn) }
        }
    }

    public func rollupCells(metrics: [String]?) throws(StorageError) -> [CellKey: CellValue] {
        try pool.with { conn throws(StorageError) in try RollupSQL.cells(conn, metrics: metrics) }
    }

    func read<T: Sendable>(_ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T {
        try pool.with { conn throws(StorageError) in try body(conn) }
    }

    /// Another session of this database is running a statement now (a serving pingroll's write
    /// batch, often waiting for the lock a rebuild holds). Looked at now and then, so it misses
    /// some; `WriterPacing` keeps a sighting for two seconds.
    func otherWritersActive() -> Bool {
        (try? read { e throws(StorageError) in
            try e.scalarInt64("""
                SELECT COUNT(*) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
                """, [], operation: "looking for other writers")
        }).map { $0 > 0 } ?? false
    }

    func writeTransaction<T: Sendable>(_ operation: String, _ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T {
        try pool.with { conn throws(StorageError) in
            try conn.transaction(operation: operation) { () throws(StorageError) in try body(conn) }
        }
    }

    public func close() { pool.close() }
}

extension PostgresStore: RetentionHost {
    /// The month a partition `pings_pYYYYMM` holds, as its first day and the next month's.
    static func partitionMonth(_ name: String) -> (start: Int64, end: Int64)? {
        guard name.hasPrefix("pings_p"), name.utf8.count == 13, let ym = Int(name.dropFirst(7)) else { return nil }
        let (y, m) = (ym / 100, ym % 100)
        guard (1970...9999).contains(y), (1...12).contains(m) else { return nil }
        guard let start = days(isoDate: "\(y)-\(m < 10 ? "0" : "")\(m)-01") else { return nil }
        return (start, PeriodKind.month.next(after: start))
    }

    /// A month that lies wholly before `cutoff` loses its payloads by replacing its partition:
    /// the rows are copied without payloads into a new table, the old partition is detached and
    /// dropped (its disk space returns at once, with no dead rows to vacuum), and the new table
    /// is attached in its place — in one transaction that no write batch runs beside. Detaching
    /// waits for every open reader of the pings (a `rollup verify` holds its snapshot for
    /// minutes), and write batches would wait with it: after `swapLockTimeout` the month is left
    /// to the row-by-row path instead.
    func retirePartitions(before cutoff: Int64, dryRun: Bool, into report: inout RetentionReport) throws(StorageError) -> Int64? {
        let op = "dropping old payloads by partition"
        let names = try read { e throws(StorageError) in
            try ColumnList([("partition", "c.relname")]).select(e, """
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'pings'::regclass ORDER BY c.relname
                """, [], operation: op).map { r throws(StorageError) in try r.requiredString("partition") }
        }
        let columns = try read { e throws(StorageError) in
            try ColumnList(["column_name"]).select(e, """
                FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'pings' ORDER BY ordinal_position
                """, [], operation: op).map { r throws(StorageError) in try r.requiredString("column_name") }
        }
        var covered: Int64?
        var leftToRows = false
        for name in names {
            guard let month = Self.partitionMonth(name), month.end * 86_400_000 <= cutoff else { continue }
            covered = max(covered ?? Int64.min, month.end * 86_400_000)
            let measure = "FROM \(name) WHERE payload_encoding <> $1"
            if dryRun {
                let (count, bytes) = try read { e throws(StorageError) in try Self.measure(e, measure) }
                guard count > 0 else { continue }
                report.partitions.append(name)
                report.payloads += count
                report.payloadBytes += bytes
                continue
            }
            let moved: (Int64, Int64)?
            do throws(StorageError) {
                moved = try swap(name, month: month, columns: columns, measure: measure)
            } catch where error.kind == .busy {
                leftToRows = true
                continue
            }
            guard let moved else { continue }
            report.partitions.append(name)
            report.payloads += moved.0
            report.payloadBytes += moved.1
        }
        // A month left to the rows means the row path must start at the beginning.
        return leftToRows ? nil : covered
    }

    /// Replaces partition `name` by a copy of its rows without payloads; nil when it has none left.
    private func swap(_ name: String, month: (start: Int64, end: Int64), columns: [String], measure: String) throws(StorageError) -> (Int64, Int64)? {
        let op = "dropping old payloads by partition"
        return try rollupTransaction(op) { e, _ throws(StorageError) -> (Int64, Int64)? in
            try e.query("SELECT pg_advisory_xact_lock($1)", [.integer(Self.partitionLock)], operation: op)
            try e.query("SET LOCAL lock_timeout = '\(Self.swapLockTimeoutMs)ms'", [], operation: op)
            let (count, bytes) = try Self.measure(e, measure)
            guard count > 0 else { return nil }
            let list = columns.joined(separator: ", ")
            let values = columns.map { column in
                switch column {
                case "payload": "'\\x'::bytea"
                case "payload_encoding": "'\(CompressedPayload.dropped)'"
                case "shape_id": "NULL::bigint"
                default: column
                }
            }.joined(separator: ", ")
            let fresh = name + "_retained"
            for statement in [
                "DROP TABLE IF EXISTS \(fresh)",
                "CREATE TABLE \(fresh) (LIKE pings INCLUDING DEFAULTS)",
                "ALTER TABLE \(fresh) ALTER COLUMN payload SET STORAGE EXTERNAL",
                "INSERT INTO \(fresh) (\(list)) SELECT \(values) FROM \(name)",
                "ALTER TABLE pings DETACH PARTITION \(name)",
                "DROP TABLE \(name)",
                "ALTER TABLE \(fresh) RENAME TO \(name)",
                "ALTER TABLE pings ATTACH PARTITION \(name) FOR VALUES FROM (\(month.start * 86_400_000)) TO (\(month.end * 86_400_000))",
            ] {
                try e.query(statement, [], operation: op)
            }
            return (count, bytes)
        }
    }

    /// The payloads a partition still holds, and their bytes: `rest` is the FROM and WHERE.
    private static func measure(_ e: any SQLExecutor, _ rest: String) throws(StorageError) -> (Int64, Int64) {
        let columns = ColumnList([("payloads", "COUNT(*)"), ("bytes", "CAST(COALESCE(SUM(length(payload)), 0) AS BIGINT)")])
        guard let row = try columns.select(e, rest, [.text(CompressedPayload.dropped)], operation: "dropping old payloads by partition").first else { return (0, 0) }
        return (try row.int64("payloads") ?? 0, try row.int64("bytes") ?? 0)
    }

    /// How long a partition swap waits for the table lock before leaving the month to the rows.
    static let swapLockTimeoutMs = 2_000
}

extension PostgresStore {
    /// Serves with `catalog` from now on and registers it with the rollups (`prepareRollups`);
    /// returns the metrics that are stale and need `rollup rebuild`. A batch already under way
    /// finishes with the catalog it started with.
    public func replaceCatalog(_ catalog: MetricCatalog) throws(StorageError) -> [String] {
        catalogHolder.withLock { $0 = catalog }
        return try prepareRollups()
    }
}
