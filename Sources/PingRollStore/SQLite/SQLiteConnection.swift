import PingRollCore
import CSQLite
import Glibc

/// One SQLite connection handle and its statement cache, used by one thread at a time.
///
/// `close()` must be called explicitly; `deinit` only asserts that it was.
final class SQLiteConnection {
    private(set) var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens (creating when needed) the database at `path` with pingroll's pragmas:
    /// 16 KiB pages (set before the first table), WAL, `synchronous=FULL`, a busy timeout.
    /// 64 MiB of page cache (negative: KiB) and up to 1 GiB memory-mapped.
    static let cacheSize = -65_536
    static let mmapSize = 1 << 30

    init(path: String, busyTimeoutMs: Int32 = 10_000) throws(StorageError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let reason = String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw StorageError(.unavailable, operation: "opening the SQLite database", reason: reason)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        // SQLite's own busy handler sleeps up to 100 ms between looks at the lock, so a write
        // batch waiting for another process's short transactions (a `rollup rebuild`, paced by
        // `WriterPacing`) would keep missing the gaps between them. This one looks every
        // millisecond, up to the same timeout.
        sqlite3_busy_handler(db, { context, count in
            let timeoutMs = Int32(truncatingIfNeeded: Int(bitPattern: context))
            guard count < timeoutMs else { return 0 }
            usleep(1000)
            return 1
        }, UnsafeMutableRawPointer(bitPattern: Int(max(1, busyTimeoutMs))))
        do {
            try execute("PRAGMA page_size = 16384")
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = FULL")
            try execute("PRAGMA foreign_keys = ON")
            try execute("PRAGMA cache_size = \(Self.cacheSize)")
            try execute("PRAGMA mmap_size = \(Self.mmapSize)")
        } catch {
            close()
            throw error
        }
    }

    deinit { assert(handle == nil, "SQLiteConnection.close() was not called") }

    func close() {
        for statement in statements.values { statement.finalize() }
        statements.removeAll()
        sqlite3_close_v2(handle)
        handle = nil
    }

    /// Runs one or more statements that take no parameters.
    func execute(_ sql: String, operation: String = "configuring the database") throws(StorageError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, operation) }
    }

    /// Runs one statement in shared SQL (rendered for SQLite), cached by its text.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = [], operation: String) throws(StorageError) -> [SQLRow] {
        let statement: SQLiteStatement
        if let cached = statements[sql] {
            statement = cached
        } else {
            statement = try SQLiteStatement(connection: self, sql: SQLDialect.sqlite.render(sql), operation: operation)
            statements[sql] = statement
        }
        return try statement.run(parameters, operation: operation)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT` (or another `begin`), rolling back when it throws.
    func transaction<T>(operation: String, begin: String = "BEGIN IMMEDIATE", onRollback: () -> Void = {},
                        _ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        try execute(begin, operation: operation)
        do {
            let result = try body()
            try execute("COMMIT", operation: operation)
            return result
        } catch {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            onRollback()
            throw error
        }
    }

    /// Runs `body` in a read transaction: every read in it sees one snapshot of the database.
    func readTransaction<T>(operation: String, _ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        try transaction(operation: operation, begin: "BEGIN", body)
    }

    /// Maps a SQLite result code to a `StorageError` (SQLite's generic text, never the SQL).
    func error(_ code: Int32, _ operation: String) -> StorageError {
        let reason = String(cString: sqlite3_errstr(code))
        let kind: StorageError.Kind
        switch code & 0xFF {
        case SQLITE_CONSTRAINT: kind = .constraint
        case SQLITE_BUSY, SQLITE_LOCKED: kind = .busy
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY: kind = .unavailable
        case SQLITE_FULL, SQLITE_IOERR: kind = .io
        case SQLITE_CORRUPT, SQLITE_NOTADB: kind = .corrupt
        default: kind = .other
        }
        let detail = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return StorageError(kind, operation: operation, reason: reason, debugDetail: detail)
    }
}
