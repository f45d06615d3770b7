import Foundation
import Logging
import PingRollCore
@testable import PingRollStore

/// The storage backends the contract tests run against: SQLite always, PostgreSQL when
/// `PINGROLL_TEST_POSTGRES_URL` names a server (scripts/test.sh starts a throwaway one).
enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite, postgres

    static let postgresURL = ProcessInfo.processInfo.environment["PINGROLL_TEST_POSTGRES_URL"]

    static var available: [Backend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    var description: String { rawValue }
}

/// A fresh database of one backend: a SQLite file in its own temp directory, or a PostgreSQL
/// schema of its own; removed when the test ends.
final class TestDatabase {
    let backend: Backend
    let directory: URL
    let schema: String
    var path: String { directory.appendingPathComponent("pingroll.sqlite3").path }

    init(_ backend: Backend = .sqlite) {
        self.backend = backend
        let id = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-test-\(id)")
        schema = "t_\(id)"
        if backend == .sqlite {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } else {
            try! admin("CREATE SCHEMA \(schema)")
        }
    }

    /// The libpq URL whose connections see only this test's schema.
    var postgresURL: String { Backend.postgresURL! + "&options=-csearch_path%3D\(schema)" }

    func open(catalog: MetricCatalog? = nil, migrate: Bool = true,
              quarantineMaxBytes: Int64 = QuarantineRecord.defaultMaxStoredBytes) throws -> any PingStore {
        let store: any PingStore
        switch backend {
        case .sqlite: store = try SQLiteStore(path: path, catalog: catalog, quarantineMaxBytes: quarantineMaxBytes)
        case .postgres: store = try PostgresStore(url: postgresURL, catalog: catalog, poolSize: 3, quarantineMaxBytes: quarantineMaxBytes)
        }
        if migrate { try store.migrate() }
        return store
    }

    /// Runs SQL straight on the database (to corrupt rows, read bookkeeping, write rows as an
    /// earlier schema had them).
    @discardableResult
    func sql(_ text: String, _ parameters: [SQLValue] = []) throws -> [SQLRow] {
        switch backend {
        case .sqlite:
            let conn = try SQLiteConnection(path: path)
            defer { conn.close() }
            return try conn.query(text, parameters, operation: "test")
        case .postgres:
            let conn = try PostgresConnection(url: postgresURL)
            defer { conn.close() }
            return try conn.query(text, parameters, operation: "test")
        }
    }

    /// Brings the schema to migration `version` and no further, as an earlier pingroll left it.
    func migrate(upTo version: Int) throws {
        switch backend {
        case .sqlite:
            let conn = try SQLiteConnection(path: path)
            defer { conn.close() }
            _ = try SQLiteStore.runner(conn).migrate(upTo: version)
        case .postgres:
            let conn = try PostgresConnection(url: postgresURL)
            defer { conn.close() }
            _ = try PostgresStore.runner(conn).migrate(upTo: version)
        }
    }

    private func admin(_ text: String) throws {
        let conn = try PostgresConnection(url: Backend.postgresURL!)
        defer { conn.close() }
        try conn.execute(text, operation: "test setup")
    }

    deinit {
        if backend == .postgres { try? admin("DROP SCHEMA \(schema) CASCADE") }
        try? FileManager.default.removeItem(at: directory)
    }
}

func pingRecord(uuid: String = "u-1", hostname: String? = "gitlab.example.com", recordedAt: String,
                version: String? = "16.5.1-ee", edition: String? = "EEP", payload: String? = nil) -> PingRecord {
    var facts = PingFacts(installation: InstallationKey(uuid: uuid, hostname: hostname),
                          recordedAt: Timestamp.parseISO8601(recordedAt)!)
    facts.version = version
    facts.parsedVersion = version.flatMap(GitLabVersion.init)
    facts.edition = edition
    facts.tier = edition.flatMap { Tier(edition: $0) }
    let body = payload ?? #"{"uuid":"\#(uuid)","recorded_at":"\#(recordedAt)"}"#
    return PingRecord(facts: facts, receivedAt: .now(), payload: PayloadCodec.compress(Array(body.utf8)))
}

let testLogger = Logger(label: "pingroll-tests")
