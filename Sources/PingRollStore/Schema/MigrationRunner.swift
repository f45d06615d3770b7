import PingRollCore

/// Applies `Migrations.all` through an executor; shared by every backend.
struct MigrationRunner {
    let executor: any SQLExecutor
    /// Runs `body` in one transaction on the backend.
    let inTransaction: (_ operation: String, _ body: () throws(StorageError) -> Void) throws(StorageError) -> Void

    func status() throws(StorageError) -> [MigrationState] {
        try inTransaction("creating the schema bookkeeping") { () throws(StorageError) in
            try executor.query(Migrations.bookkeeping, [], operation: "creating the schema bookkeeping")
        }
        let op = "reading the schema version"
        var applied: [Int: Int64] = [:]
        for row in try ColumnList(["version", "applied_at"]).select(executor, "FROM schema_migrations", [], operation: op) {
            applied[Int(clamping: try row.requiredInt64("version"))] = try row.int64("applied_at")
        }
        if let newest = applied.keys.max(), newest > Migrations.latestVersion {
            throw StorageError(.schema, operation: op,
                               reason: "the database has schema version \(newest), newer than this pingroll knows (\(Migrations.latestVersion))")
        }
        return Migrations.all.map { MigrationState(version: $0.version, name: $0.name, appliedAt: applied[$0.version]) }
    }

    /// Applies the pending migrations, all or (for upgrade tests) those up to `upTo`.
    func migrate(upTo: Int? = nil) throws(StorageError) -> [MigrationState] {
        _ = try status()
        var appliedNow: [MigrationState] = []
        for migration in Migrations.all where migration.version <= (upTo ?? Int.max) {
            var applied = false
            try inTransaction("applying migration \(migration.version)") { () throws(StorageError) in
                // Re-check inside the transaction: another process may have applied it meanwhile.
                let done = try executor.query("SELECT 1 FROM schema_migrations WHERE version = $1",
                                              [.integer(Int64(migration.version))], operation: "applying migration \(migration.version)")
                guard done.isEmpty else { return }
                for statement in migration.statements(executor.dialect) {
                    try executor.query(statement, [], operation: "applying migration \(migration.version)")
                }
                try executor.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                                   [.integer(Int64(migration.version)), .text(migration.name), .integer(Timestamp.now().milliseconds)],
                                   operation: "applying migration \(migration.version)")
                applied = true
            }
            if applied {
                appliedNow.append(MigrationState(version: migration.version, name: migration.name, appliedAt: Timestamp.now().milliseconds))
            }
        }
        return appliedNow
    }
}
