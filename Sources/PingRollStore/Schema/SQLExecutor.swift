/// A connection that runs shared SQL (see `SQLDialect`); implemented once per backend so the
/// write and read logic above it is written once.
protocol SQLExecutor: AnyObject {
    var dialect: SQLDialect { get }
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue], operation: String) throws(StorageError) -> [SQLRow]
}

extension SQLiteConnection: SQLExecutor {
    var dialect: SQLDialect { .sqlite }
}
