import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// What every `PingStore` backend must do, run against each backend.
@Suite struct StoreContractTests {
    @Test(arguments: Backend.available)
    func migrationsApplyOnceAndReportTheirStatus(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(migrate: false)
        defer { store.close() }
        #expect(try store.migrationStatus().allSatisfy { $0.appliedAt == nil })
        let first = try store.migrate()
        #expect(first.map(\.version) == Migrations.all.map(\.version))
        #expect(try store.migrate().isEmpty)
        #expect(try store.migrationStatus().allSatisfy { $0.appliedAt != nil })
    }

    /// What `/metrics` reads: cheap figures that follow what was written, on both backends.
    @Test(arguments: Backend.available)
    func operationalFiguresFollowWhatIsStored(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        var figures = try store.operationalStatistics()
        #expect(figures.installations == 0 && figures.quarantineEntries == 0 && figures.lastPingReceivedAt == nil && figures.databaseBytes > 0)
        var late = pingRecord(uuid: "b", recordedAt: "2025-01-07T00:00:00Z")
        late.receivedAt = Timestamp(milliseconds: 1_800_000_000_000)
        _ = try store.write([.ping(pingRecord(uuid: "a", recordedAt: "2025-01-06T00:00:00Z")), .ping(late),
                             .ping(pingRecord(uuid: "a", recordedAt: "2025-01-08T00:00:00Z"))])
        let q = QuarantineRecord(receivedAt: .now(), route: "/usage_data", status: 400, reason: "invalid_json", message: "bad",
                                 remoteAddress: nil, contentType: nil, contentEncoding: nil, bodySize: 5, body: Array("{oops".utf8))
        _ = try store.write([.quarantine(q)])
        figures = try store.operationalStatistics()
        #expect(figures.installations == 2 && figures.quarantineEntries == 1 && figures.quarantineBytes > 0)
        // The newest ping by id, whatever its receipt time says.
        #expect(figures.lastPingReceivedAt != nil && figures.lastPingReceivedAt != 1_800_000_000_000)
    }

    @Test(arguments: Backend.available)
    func aNewerSchemaThanTheBinaryKnowsIsRefused(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        try db.sql("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
        #expect(throws: StorageError.self) { try store.migrate() }
    }

    @Test(arguments: Backend.available)
    func storesAPingAndReadsItBackWithItsPayload(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let record = pingRecord(recordedAt: "2024-01-15T10:00:00Z", payload: #"{"uuid":"u-1","big":"\#(String(repeating: "x", count: 10_000))"}"#)
        let outcome = try #require(try store.write([.ping(record)]).first)
        guard case .stored(let id) = outcome else { Issue.record("expected stored, got \(outcome)"); return }
        #expect(id > 0)
        let stored = try #require(try store.ping(id: id))
        #expect(stored.installation == record.facts.installation)
        #expect(stored.recordedAt == record.facts.recordedAt)
        #expect(stored.tier == "premium" && stored.version == "16.5.1-ee")
        #expect(stored.payload == (try PayloadCodec.decompress(record.payload)))
        #expect(record.payload.bytes.count < 1000)  // compressed
        #expect(try store.ping(id: id + 1000) == nil)
    }

    @Test(arguments: Backend.available)
    func aDuplicateIsStoredOnceAndGetsTheFirstId(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let a = pingRecord(hostname: "GitLab.Example.com ", recordedAt: "2024-01-15T10:00:00Z")
        let b = pingRecord(hostname: "gitlab.example.com", recordedAt: "2024-01-15T12:00:00.000+02:00")
        let c = pingRecord(hostname: "other.example.com", recordedAt: "2024-01-15T10:00:00Z")
        let outcomes = try store.write([.ping(a), .ping(b), .ping(c)])
        #expect(outcomes[0] == .stored(id: outcomes[0].id))
        #expect(outcomes[1] == .duplicate(id: outcomes[0].id))
        #expect(outcomes[2] == .stored(id: outcomes[2].id) && outcomes[2].id != outcomes[0].id)
        #expect(try store.write([.ping(a)]) == [.duplicate(id: outcomes[0].id)])
        let stats = try store.statistics()
        #expect(stats.pings == 2 && stats.installations == 2)
    }

    @Test(arguments: Backend.available)
    func theInstallationKeepsTheFactsOfItsLatestPingByRecordedAt(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        _ = try store.write([.ping(pingRecord(recordedAt: "2024-02-01T00:00:00Z", version: "16.8.0-ee"))])
        _ = try store.write([.ping(pingRecord(recordedAt: "2024-01-01T00:00:00Z", version: "16.7.0-ee"))])  // late arrival
        let row = try db.sql("SELECT version, latest_recorded_at FROM installations")
        #expect(row.first?[0] == .text("16.8.0-ee"))
        #expect(row.first?[1].int64 == Timestamp.parseISO8601("2024-02-01T00:00:00Z")!.milliseconds)
    }

    @Test(arguments: Backend.available)
    func theQuarantineIsCompressedCappedOldestFirstAndCountsWhatItDrops(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(quarantineMaxBytes: 2 << 20)
        defer { store.close() }
        var rng = SystemRandomNumberGenerator()
        func record(_ i: Int, _ body: [UInt8]) -> QuarantineRecord {
            QuarantineRecord(receivedAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(i)), route: "/usage_data", status: 400,
                             reason: "invalid_json", message: "bad \u{0}body \(i)", remoteAddress: nil, contentType: nil,
                             contentEncoding: nil, bodySize: body.count, body: body)
        }
        // Compressible bodies cost little: a megabyte of zeros is stored in a few hundred bytes.
        _ = try store.write([.quarantine(record(0, [UInt8](repeating: 0, count: 1 << 20)))])
        #expect(try db.sql("SELECT stored_size FROM quarantine").first?[0].int64 ?? .max < 1_000)
        for i in 1...12 {
            let junk = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try store.write([.quarantine(record(i, junk))])
        }
        let totals = try #require(try db.sql("SELECT stored_bytes, dropped FROM quarantine_totals").first)
        #expect((totals[0].int64 ?? .max) <= 2 << 20 && (totals[1].int64 ?? 0) >= 6, "\(totals)")
        let kept = try store.quarantine(limit: 100)
        #expect(kept.first?.record.message == "bad \u{FFFD}body 12", "NUL in text is replaced, never cut")
        #expect(kept.allSatisfy { $0.record.body.count == 300_000 })
        #expect(!kept.contains { $0.record.receivedAt.milliseconds == 1_700_000_000_000 }, "the oldest went first")
        let health = try store.ingestHealth(fromDay: 19_600, toDay: 19_700)
        #expect(health.days.reduce(0) { $0 + $1.rejected.values.reduce(0, +) } == 13)
        #expect(health.quarantineDropped == totals[1].int64)
    }

    @Test(arguments: Backend.available)
    func quarantineAndClientReportsAreKept(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let big = [UInt8](repeating: 0x41, count: QuarantineRecord.maxBodyBytes + 10)
        let q = QuarantineRecord(receivedAt: .now(), route: "/usage_data", status: 400, reason: "invalid_json", message: "bad",
                                 remoteAddress: "127.0.0.1", contentType: "application/json", contentEncoding: nil,
                                 bodySize: big.count, body: big)
        var report = ClientReport(kind: .error, receivedAt: .now(), body: #"{"error":{}}"#)
        report.uuid = "u-1"
        let outcomes = try store.write([.quarantine(q), .clientReport(report)])
        #expect(outcomes.count == 2)
        let entry = try #require(try store.quarantine(limit: 10).first)
        #expect(entry.record.bodyTruncated && entry.record.body.count == QuarantineRecord.maxBodyBytes)
        #expect(entry.record.bodySize == big.count && entry.record.reason == "invalid_json")
        #expect(entry.record.body == Array(big.prefix(QuarantineRecord.maxBodyBytes)))
        let stats = try store.statistics()
        #expect(stats.quarantined == 1 && stats.pingErrors == 1 && stats.pingMetadata == 0)
    }

    @Test(arguments: Backend.available)
    func writesSurviveReopening(backend: Backend) throws {
        let db = TestDatabase(backend)
        var store = try db.open()
        let id = try store.write([.ping(pingRecord(recordedAt: "2024-01-15T10:00:00Z"))])[0].id
        store.close()
        store = try db.open()
        defer { store.close() }
        #expect(try store.ping(id: id) != nil)
    }

    @Test(arguments: Backend.available)
    func aSecondStoreOnTheSameDatabaseSeesTheWrites(backend: Backend) throws {
        let db = TestDatabase(backend)
        let writer = try db.open()
        let reader = try db.open(migrate: false)
        defer { writer.close(); reader.close() }
        _ = try writer.write([.ping(pingRecord(recordedAt: "2024-01-15T10:00:00Z"))])
        #expect(try reader.statistics().pings == 1)
        #expect(try reader.migrationStatus().allSatisfy { $0.appliedAt != nil })
    }

    @Test(arguments: Backend.available)
    func aClosedStoreRefusesWithAClosedError(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        store.close()
        #expect { try store.statistics() } throws: { ($0 as? StorageError)?.kind == .closed }
    }

    @Test(arguments: Backend.available)
    func pingsOfManyMonthsAreStoredAndReadBack(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let months = ["2023-11-30T23:59:59.999Z", "2023-12-01T00:00:00Z", "2024-01-31T12:00:00Z", "2024-02-29T00:00:00Z"]
        let outcomes = try store.write(months.map { .ping(pingRecord(recordedAt: $0)) })
        #expect(Set(outcomes.map(\.id)).count == months.count)
        for (outcome, at) in zip(outcomes, months) {
            #expect(try store.ping(id: outcome.id)?.recordedAt == Timestamp.parseISO8601(at))
        }
        if backend == .postgres {
            let partitions = try db.sql("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'pings'::regclass")
            #expect(partitions.first?[0].int64 == 4)
        }
    }
}

/// SQLite specifics: error text and the SQL dialect.
@Suite struct SQLiteStoreTests {
    @Test func errorDescriptionsNeverCarrySQLOrValues() throws {
        let db = TestDatabase(.sqlite)
        let conn = try SQLiteConnection(path: db.path)
        defer { conn.close() }
        do {
            try conn.query("SELECT secret_value FROM nowhere WHERE x = $1", [.text("hunter2")], operation: "probing")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("nowhere") && !error.description.contains("hunter2"))
            #expect(error.description.hasPrefix("probing failed"))
        }
    }

    @Test func dialectRendersPlaceholdersAndTypes() {
        #expect(SQLDialect.sqlite.render("SELECT $1, $12, a$b FROM t WHERE id = {{ID}}") == "SELECT ?1, ?12, a$b FROM t WHERE id = INTEGER PRIMARY KEY")
        #expect(SQLDialect.postgres.render("x $1 {{BLOB}} {{WITHOUT_ROWID}}") == "x $1 BYTEA ")
    }
}
