import PingRollCore
/// A connection that runs shared SQL (see `SQLDialect`); implemented once per backend so the
/// write and read logic above it is written once.
protocol SQLExecutor: AnyObject {
    /// The SQL the backend speaks; shared SQL is rendered for it (`SQLDialect.render`).
    var dialect: SQLDialect { get }
    /// Runs one statement with `parameters` bound to `$1…$n` (never interpolated), inside the
    /// caller's transaction if one is open, and answers every row it returns with its values by
    /// position in the SELECT list (callers read them by name through `ColumnList`). Every
    /// failure is a `StorageError` naming `operation`, whose description carries no SQL text and
    /// no bound value; the connection stays usable after a failed statement.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue], operation: String) throws(StorageError) -> [SQLRow]
}

extension SQLiteConnection: SQLExecutor {
    var dialect: SQLDialect { .sqlite }
}
