/// The columns a query selects, by name: SELECT lists, INSERT and UPDATE statements are built
/// from one list, and rows are read by column name, never by position.
struct ColumnList: Sendable {
    let names: [String]
    private let index: [String: Int]

    init(_ names: [String]) {
        self.names = names
        index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    }

    var selectList: String { names.joined(separator: ", ") }

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
