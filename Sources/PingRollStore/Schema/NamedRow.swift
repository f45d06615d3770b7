import PingRollCore
/// The columns a query selects, by name: SELECT lists, INSERT and UPDATE statements are built
/// from one list, and rows are read by column name, never by position.
struct ColumnList: Sendable {
    let names: [String]
    /// What the SELECT list computes for each name (the name itself for a plain column).
    private let expressions: [String]
    private let index: [String: Int]

    init(_ names: [String]) {
        self.init(names.map { ($0, $0) })
    }

    /// Named expressions: `("id", "p.id")`, `("bytes", "CAST(SUM(body_size) AS BIGINT)")`.
    init(_ columns: [(name: String, expression: String)]) {
        names = columns.map(\.name)
        expressions = columns.map(\.expression)
        index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    }

    /// `a, b AS c, ...`: plain columns by name, expressions with their names.
    var selectList: String {
        zip(names, expressions).map { $0 == $1 ? $0 : "\($1) AS \($0)" }.joined(separator: ", ")
    }

    /// Runs `SELECT <list> <rest>` and reads the rows by name.
    func select(_ e: any SQLExecutor, _ rest: String, _ parameters: [SQLValue], operation: String) throws(StorageError) -> [NamedRow] {
        try e.query("SELECT \(selectList) \(rest)", parameters, operation: operation).map { row($0, operation) }
    }

    func row(_ values: SQLRow, _ operation: String) -> NamedRow { NamedRow(values: values, index: index, operation: operation) }
}

/// One result row read by column name. Asking for a column the query did not select, or
/// finding NULL where a value is required, is an error that names the column — never a
/// silent default.
struct NamedRow {
    let values: SQLRow
    let index: [String: Int]
    let operation: String

    func value(_ name: String) throws(StorageError) -> SQLValue {
        guard let i = index[name], i < values.count else {
            throw StorageError(.schema, operation: operation, reason: "the query returned no column \(name)")
        }
        return values[i]
    }

    func string(_ name: String) throws(StorageError) -> String? { try value(name).string }
    func int64(_ name: String) throws(StorageError) -> Int64? { try value(name).int64 }
    func bool(_ name: String) throws(StorageError) -> Bool? { try value(name).bool }
    func bytes(_ name: String) throws(StorageError) -> [UInt8]? { try value(name).bytes }

    func requiredString(_ name: String) throws(StorageError) -> String {
        guard let s = try string(name) else { throw missing(name) }
        return s
    }

    func requiredInt64(_ name: String) throws(StorageError) -> Int64 {
        guard let i = try int64(name) else { throw missing(name) }
        return i
    }

    private func missing(_ name: String) -> StorageError {
        StorageError(.corrupt, operation: operation, reason: "column \(name) is NULL or of the wrong type")
    }
}

extension SQLExecutor {
    /// The one integer a query such as `SELECT COUNT(*) ...` answers; no row or NULL is an error.
    func scalarInt64(_ sql: String, _ parameters: [SQLValue], operation: String) throws(StorageError) -> Int64 {
        guard let value = try optionalScalarInt64(sql, parameters, operation: operation) else {
            throw StorageError(.corrupt, operation: operation, reason: "the query answered no value")
        }
        return value
    }

    /// The one integer a query answers, nil when it answers no row or NULL (`SELECT MAX(...)` of nothing).
    func optionalScalarInt64(_ sql: String, _ parameters: [SQLValue], operation: String) throws(StorageError) -> Int64? {
        let rows = try query(sql, parameters, operation: operation)
        guard let row = rows.first, let value = row.first else { return nil }
        if case .null = value { return nil }
        guard let i = value.int64 else { throw StorageError(.corrupt, operation: operation, reason: "the query answered a value that is not an integer") }
        return i
    }
}
