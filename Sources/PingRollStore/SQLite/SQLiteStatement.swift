import PingRollCore
import CSQLite

/// One prepared statement, owned by the `SQLiteConnection` that prepared it.
final class SQLiteStatement {
    private var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection

    init(connection: SQLiteConnection, sql: String, operation: String) throws(StorageError) {
        self.connection = connection
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw connection.error(rc, operation)
        }
        handle = stmt
    }

    deinit { assert(handle == nil, "SQLiteStatement.finalize() was not called") }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Binds `parameters` to `?1`, `?2`, ..., steps to completion and returns every row.
    func run(_ parameters: [SQLValue], operation: String) throws(StorageError) -> [SQLRow] {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        for (offset, value) in parameters.enumerated() {
            let rc = bind(value, at: Int32(offset + 1))
            guard rc == SQLITE_OK else { throw connection.error(rc, operation) }
        }
        var rows: [SQLRow] = []
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw connection.error(rc, operation) }
            rows.append(currentRow())
        }
    }

    private func bind(_ value: SQLValue, at index: Int32) -> Int32 {
        switch value {
        case .null: return sqlite3_bind_null(handle, index)
        case .integer(let v): return sqlite3_bind_int64(handle, index, v)
        case .real(let v): return sqlite3_bind_double(handle, index, v)
        case .text(let v):
            // With its length, so a NUL inside the text is kept rather than ending it.
            var text = v
            return text.withUTF8 { utf8 in
                sqlite3_bind_text64(handle, index, UnsafeRawPointer(utf8.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                                        .assumingMemoryBound(to: CChar.self),
                                    UInt64(utf8.count), pingroll_sqlite_transient(), UInt8(SQLITE_UTF8))
            }
        case .blob(let v):
            return v.withUnsafeBytes { sqlite3_bind_blob64(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64($0.count), pingroll_sqlite_transient()) }
        }
    }

    private func currentRow() -> SQLRow {
        let count = sqlite3_column_count(handle)
        var row = SQLRow()
        row.reserveCapacity(Int(count))
        for column in 0..<count {
            switch sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(handle, column)))
            case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(handle, column)))
            case SQLITE_TEXT:
                let text = sqlite3_column_text(handle, column)
                let length = Int(sqlite3_column_bytes(handle, column))
                row.append(.text(text.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""))
            case SQLITE_BLOB:
                let length = Int(sqlite3_column_bytes(handle, column))
                let bytes = sqlite3_column_blob(handle, column)
                row.append(.blob(bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []))
            default: row.append(.null)
            }
        }
        return row
    }
}
