import Foundation
import PingRollCore
import Synchronization

/// The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`.
///
/// It keeps one connection for writes and one for reads, each behind its own lock, so reads
/// (readiness, inspection) never wait for a group commit. Other processes may open the same file
/// at the same time (WAL); their writes wait up to the busy timeout.
public final class SQLiteStore: RollupRebuildHost {
    public let path: String
    /// The catalog rollups are maintained for; `replaceCatalog` swaps it while serving (each
    /// write batch reads it once).
    public var catalog: MetricCatalog? { catalogHolder.withLock { $0 } }
    private let catalogHolder: Mutex<MetricCatalog?>
    public let quarantineMaxBytes: Int64
    private let writer: Mutex<SQLiteConnection?>
    private let cellWrites = Atomic<Int>(0)
    private let tuples = TupleRegistry()
    private let shapes = ShapeRegistry()
    private let gaps = IngestGapWatch()

    /// Rollup cell upserts written since the store was opened (for write-cost figures).
    public var rollupCellWrites: Int { cellWrites.load(ordering: .relaxed) }
    private let reader: Mutex<SQLiteConnection?>
    private let lastDataVersion = Mutex<Int64?>(nil)

    /// Opens or creates the database at `path`, creating its directory when missing.
    /// - Parameter quarantineMaxBytes: the quarantine's cap in stored bytes (oldest entries go first).
    public init(path: String, catalog: MetricCatalog? = nil,
                quarantineMaxBytes: Int64 = QuarantineRecord.defaultMaxStoredBytes) throws(StorageError) {
        self.path = path
        catalogHolder = Mutex(catalog)
        self.quarantineMaxBytes = quarantineMaxBytes
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StorageError(.unavailable, operation: "creating the database directory", reason: "\(directory) cannot be created")
            }
        }
        let w = try SQLiteConnection(path: path)
        let r: SQLiteConnection
        do { r = try SQLiteConnection(path: path) } catch { w.close(); throw error }
        writer = Mutex(w)
        reader = Mutex(r)
    }

    public func migrate() throws(StorageError) -> [MigrationState] {
        try withWriter { conn throws(StorageError) in try Self.runner(conn).migrate() }
    }

    public func migrationStatus() throws(StorageError) -> [MigrationState] {
        try withReader { conn throws(StorageError) in try Self.runner(conn).status() }
    }

    public func write(_ items: [WriteItem]) throws(StorageError) -> [WriteOutcome] {
        try withWriter { conn throws(StorageError) in
            try conn.transaction(operation: "storing a write batch", onRollback: { [tuples, shapes] in tuples.reset(); shapes.reset() }) { () throws(StorageError) in
                let rollups = try self.catalog.map { c throws(StorageError) in try RollupMaintainer(executor: conn, catalog: c, tuples: tuples) }
                rollups?.reserve(pings: items.count)
                let writer = SQLWriter(executor: conn, rollups: rollups, shapes: shapes, quarantineMaxBytes: quarantineMaxBytes, gaps: gaps)
                var outcomes: [WriteOutcome] = []
                outcomes.reserveCapacity(items.count)
                for item in items { outcomes.append(try writer.write(item)) }
                try writer.flush()
                cellWrites.add(rollups?.cellWrites ?? 0, ordering: .relaxed)
                return outcomes
            }
        }
    }

    /// Below this much free space on the database's file system, pingroll is not ready.
    public static let minimumFreeBytes: UInt64 = 16 << 20

    public func checkReadiness() throws(StorageError) {
        try withReader { conn throws(StorageError) in
            _ = try conn.query("SELECT COUNT(*) FROM schema_migrations", operation: "checking the database")
        }
        let directory = (path as NSString).deletingLastPathComponent
        var fs = statvfs()
        if statvfs(directory.isEmpty ? "." : directory, &fs) == 0 {
            let free = UInt64(fs.f_bavail).multipliedReportingOverflow(by: UInt64(fs.f_frsize))
            if !free.overflow && free.partialValue < Self.minimumFreeBytes {
                throw StorageError(.io, operation: "checking the database",
                                   reason: "the disk holding the database has \(free.partialValue) bytes free (less than \(Self.minimumFreeBytes))")
            }
        }
    }

    public func ping(id: Int64) throws(StorageError) -> StoredPing? {
        try withReader { conn throws(StorageError) in try SQLReader(executor: conn).ping(id: id) }
    }

    public func quarantine(limit: Int) throws(StorageError) -> [StoredQuarantineEntry] {
        try withReader { conn throws(StorageError) in try SQLReader(executor: conn).quarantine(limit: limit) }
    }

    public func operationalStatistics() throws(StorageError) -> OperationalStatistics {
        try withReader { conn throws(StorageError) in try SQLReader(executor: conn).operationalStatistics() }
    }

    public func statistics() throws(StorageError) -> StoreStatistics {
        try withReader { conn throws(StorageError) in try SQLReader(executor: conn).statistics() }
    }

    func rollupTransaction<T: Sendable>(_ operation: String, _ body: (any SQLExecutor, TupleRegistry) throws(StorageError) -> T) throws(StorageError) -> T {
        try withWriter { conn throws(StorageError) in
            try conn.transaction(operation: operation, onRollback: tuples.reset) { () throws(StorageError) in try body(conn, tuples) }
        }
    }

    func snapshot<T: Sendable>(_ operation: String, _ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T {
        try withReader { conn throws(StorageError) in
            try conn.readTransaction(operation: operation) { () throws(StorageError) in try body(conn) }
        }
    }

    /// A whole-history scan runs without the memory map (and the reader with a small page
    /// cache), so that reading every page once does not leave the file resident in this
    /// process; the kernel's page cache still holds it.
    func scanning<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        // The writer keeps its page cache: a rebuild rewrites cells all over the table.
        func set(readerCache: Int, mmap: Int) throws(StorageError) {
            try withWriter { c throws(StorageError) in try c.execute("PRAGMA mmap_size = \(mmap)") }
            try withReader { c throws(StorageError) in
                try c.execute("PRAGMA cache_size = \(readerCache)")
                try c.execute("PRAGMA mmap_size = \(mmap)")
            }
        }
        try set(readerCache: -8192, mmap: 0)
        defer { try? set(readerCache: SQLiteConnection.cacheSize, mmap: SQLiteConnection.mmapSize) }
        return try body()
    }

    public func rollupCells(metrics: [String]?) throws(StorageError) -> [CellKey: CellValue] {
        try withReader { conn throws(StorageError) in try RollupSQL.cells(conn, metrics: metrics) }
    }

    /// `PRAGMA data_version` of the writer connection changes when another connection (another
    /// process: this one writes through the writer only) committed since it was last read.
    func otherWritersActive() -> Bool {
        let version = (try? withWriter { conn throws(StorageError) in
            try conn.optionalScalarInt64("PRAGMA data_version", [], operation: "looking for other writers")
        }) ?? nil
        return lastDataVersion.withLock { last in
            defer { last = version }
            return last != nil && version != nil && last != version
        }
    }

    func read<T: Sendable>(_ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T {
        try withReader { conn throws(StorageError) in try body(conn) }
    }

    func writeTransaction<T: Sendable>(_ operation: String, _ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T {
        try withWriter { conn throws(StorageError) in
            try conn.transaction(operation: operation) { () throws(StorageError) in try body(conn) }
        }
    }

    /// Writes a consistent copy of the database to `path` (which must not exist) while writers
    /// go on: `VACUUM INTO` reads one snapshot, so the copy holds exactly what was committed
    /// when it began, compacted. The copy is made under a temporary name beside `path`, synced,
    /// and renamed into place, so `path` never names half a backup. Returns its size in bytes.
    public func backup(to path: String) throws(StorageError) -> Int64 {
        let op = "backing up the database"
        let url = URL(fileURLWithPath: path)
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StorageError(.other, operation: op, reason: "\(path) exists; a backup never overwrites a file")
        }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try withReader { conn throws(StorageError) in
                try conn.execute("PRAGMA mmap_size = 0")
                defer { try? conn.execute("PRAGMA mmap_size = \(SQLiteConnection.mmapSize)") }
                try conn.query("VACUUM INTO $1", [.text(temporary)], operation: op)
            }
            let fd = open(temporary, O_RDONLY)
            guard fd >= 0 else { throw StorageError(.io, operation: op, reason: "the copy cannot be opened to sync it") }
            let synced = fsync(fd) == 0
            Glibc.close(fd)
            guard synced else { throw StorageError(.io, operation: op, reason: "the copy could not be synced to disk") }
            // link(2), not rename(2): it refuses an existing target, even one made meanwhile.
            guard link(temporary, path) == 0 else {
                throw StorageError(.io, operation: op, reason: "\(path) cannot be created (\(String(cString: strerror(errno))))")
            }
            unlink(temporary)
            let directory = open(url.deletingLastPathComponent().path, O_RDONLY)
            if directory >= 0 { _ = fsync(directory); Glibc.close(directory) }
        } catch let error as StorageError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw StorageError(.io, operation: op, reason: "\(error)")
        }
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// `PRAGMA quick_check`: "ok", or the problems SQLite finds in the file.
    public func integrityProblems() throws(StorageError) -> [String] {
        // Without the memory map: reading every page once must not leave the file resident.
        let op = "checking the database file"
        let lines = try scanning { () throws(StorageError) in
            try withReader { conn throws(StorageError) in
                try ColumnList(["quick_check"]).select(conn, "FROM pragma_quick_check", [], operation: op).map { r throws(StorageError) in
                    try r.requiredString("quick_check")
                }
            }
        }
        return lines == ["ok"] ? [] : lines
    }

    /// Runs a read-only statement (for benchmarks comparing against raw SQL).
    public func rawQuery(_ sql: String, _ parameters: [SQLValue]) throws(StorageError) -> [SQLRow] {
        try withReader { conn throws(StorageError) in try conn.query(sql, parameters, operation: "running a raw query") }
    }

    public func close() {
        writer.withLock { conn in conn?.close(); conn = nil }
        reader.withLock { conn in conn?.close(); conn = nil }
    }

    static func runner(_ conn: SQLiteConnection) -> MigrationRunner {
        MigrationRunner(executor: conn) { operation, body throws(StorageError) in
            try conn.transaction(operation: operation, body)
        }
    }

    private func withWriter<T: Sendable>(_ body: (SQLiteConnection) throws(StorageError) -> T) throws(StorageError) -> T {
        try Self.with(writer, body)
    }

    private func withReader<T: Sendable>(_ body: (SQLiteConnection) throws(StorageError) -> T) throws(StorageError) -> T {
        try Self.with(reader, body)
    }

    private static func with<T: Sendable>(_ lock: borrowing Mutex<SQLiteConnection?>,
                                          _ body: (SQLiteConnection) throws(StorageError) -> T) throws(StorageError) -> T {
        let result: Result<T, StorageError> = lock.withLock { conn in
            guard let conn else { return .failure(StorageError(.closed, operation: "using the store", reason: "the store is closed")) }
            do throws(StorageError) { return .success(try body(conn)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

extension SQLiteStore: RetentionHost {
    /// SQLite keeps pings in one table: payloads go row by row.
    func retirePartitions(before cutoff: Int64, dryRun: Bool, into report: inout RetentionReport) throws(StorageError) -> Int64? { nil }
}

extension SQLiteStore {
    /// Serves with `catalog` from now on and registers it with the rollups (`prepareRollups`);
    /// returns the metrics that are stale and need `rollup rebuild`. A batch already under way
    /// finishes with the catalog it started with.
    public func replaceCatalog(_ catalog: MetricCatalog) throws(StorageError) -> [String] {
        catalogHolder.withLock { $0 = catalog }
        return try prepareRollups()
    }
}
