import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// Rows are read by column name, and what a reader needs but does not find (a column the query
/// did not select, NULL where a value is required, a code no version wrote) is an error naming
/// it, never a silent zero or a skipped row.
@Suite struct NamedRowTests {
    @Test(arguments: Backend.available)
    func aRequiredNullAndAMissingColumnAreErrorsThatNameTheColumn(backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.open().close()
        let sqlite = backend == .sqlite ? try SQLiteConnection(path: db.path) : nil
        let postgres = backend == .postgres ? try PostgresConnection(url: db.postgresURL) : nil
        defer { sqlite?.close(); postgres?.close() }
        let conn: any SQLExecutor = try #require(sqlite ?? postgres)
        let columns = ColumnList([("present", "CAST(7 AS BIGINT)"), ("absent", "CAST(NULL AS BIGINT)")])
        let row = try #require(try columns.select(conn, "", [], operation: "testing").first)
        #expect(try row.requiredInt64("present") == 7)
        #expect(try row.int64("absent") == nil)
        #expect { try row.requiredInt64("absent") } throws: { ($0 as? StorageError)?.kind == .corrupt && "\($0)".contains("absent") }
        #expect { try row.value("neither") } throws: { ($0 as? StorageError)?.kind == .schema && "\($0)".contains("neither") }
        #expect { try conn.scalarInt64("SELECT CAST(NULL AS BIGINT)", [], operation: "testing") } throws: { ($0 as? StorageError)?.kind == .corrupt }
        #expect(try conn.optionalScalarInt64("SELECT id FROM pings", [], operation: "testing") == nil)
    }

    /// A rollup cell with a period code no pingroll writes used to be skipped without a word, so
    /// `rollup verify` compared less than the database held.
    @Test(arguments: Backend.available)
    func aRollupCellWithAnUnknownPeriodFailsVerificationLoudly(backend: Backend) throws {
        let catalog = try MetricCatalog(metrics: [MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean)])
        let db = TestDatabase(backend)
        let store = try db.open(catalog: catalog)
        defer { store.close() }
        _ = try store.prepareRollups()
        let body = Array(#"{"uuid":"u-1","hostname":"h","recorded_at":"2025-03-05T10:00:00Z","container_registry_enabled":true}"#.utf8)
        let facts = try PayloadExtractor(catalog: catalog).extract(body, receivedAt: .now())
        _ = try store.write([.ping(PingRecord(facts: facts, receivedAt: .now(), payload: PayloadCodec.compress(body)))])
        #expect(try store.verifyRollups(progress: nil).differences.isEmpty)
        try db.sql("UPDATE rollup_cells SET period = 7 WHERE period = 1")
        #expect { try store.verifyRollups(progress: nil) } throws: { error in
            (error as? StorageError)?.kind == .corrupt && "\(error)".contains("period code 7")
        }
    }
}
