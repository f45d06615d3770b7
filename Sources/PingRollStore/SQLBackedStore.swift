import PingRollCore

/// What a backend provides so the reads and writes written once on `SQLExecutor` can run on it.
protocol SQLBackedStore: PingStore {
    /// Runs `body` on a connection for reads (no transaction).
    func read<T: Sendable>(_ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T
    /// Whether another process wrote since the last call (a serving pingroll beside a CLI
    /// rebuild): long work then leaves it the writer half of the time (`WriterPacing`).
    func otherWritersActive() -> Bool
    /// Runs `body` in a write transaction.
    func writeTransaction<T: Sendable>(_ operation: String, _ body: (any SQLExecutor) throws(StorageError) -> T) throws(StorageError) -> T
}

extension SQLBackedStore {
    public func createToken(name: String, role: Role) throws(StorageError) -> BearerToken {
        try writeTransaction("creating a token") { e throws(StorageError) in try TokenSQL.create(e, name: name, role: role) }
    }

    public func tokens() throws(StorageError) -> [TokenInfo] {
        try read { e throws(StorageError) in try TokenSQL.list(e) }
    }

    public func revokeToken(name: String) throws(StorageError) -> Bool {
        try writeTransaction("revoking a token") { e throws(StorageError) in try TokenSQL.revoke(e, name: name) }
    }

    public func authenticate(_ token: BearerToken) throws(StorageError) -> TokenInfo? {
        try read { e throws(StorageError) in try TokenSQL.authenticate(e, token) }
    }

    public func series(_ query: SeriesQuery) throws(StorageError) -> [SeriesGroup] {
        let rows = try read { e throws(StorageError) in try RollupSQL.grouped(e, query) }
        return Series.compute(query, grouped: rows)
    }

}
