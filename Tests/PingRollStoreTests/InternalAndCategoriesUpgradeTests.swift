import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// Migration 8 adds the `internal` and `optional_metrics` dimensions to a database an earlier
/// pingroll filled: its rollups must stay consistent, the change must be reported as needing a
/// full rebuild, and the rebuild must re-derive the new facts (and the licence-expiry tier) of
/// the pings stored before.
@Suite struct InternalAndCategoriesUpgradeTests {
    static let catalog = try! MetricCatalog(metrics: [
        MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean, dataCategory: .operational),
        MetricDefinition(keyPath: "container_registry_server.vendor", valueType: .string, dataCategory: .optional),
    ])

    /// GitLab.com itself, with an expired premium licence, optional metrics off and no vendor.
    static let internalPayload = #"""
        {"uuid":"ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f","hostname":"gitlab.com","recorded_at":"2025-03-05T10:00:00Z",
         "edition":"EEP","license_expires_at":"2025-01-01","version":"17.9.0-ee","container_registry_enabled":true,
         "settings":{"collected_data_categories":["standard","subscription","operational"]}}
        """#
    static let customerPayload = #"""
        {"uuid":"u-2","hostname":"registry.example.org","recorded_at":"2025-03-05T11:00:00Z","edition":"CE",
         "version":"17.9.0","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab"}}
        """#

    /// Writes two pings, one tuple and their installation cells the way schema 7 stored them.
    func fillAsSchema7(_ db: TestDatabase) throws {
        try db.migrate(upTo: 7)
        let at = Timestamp.parseISO8601("2025-03-05T10:00:00Z")!.milliseconds
        if db.backend == .postgres {
            let march = Timestamp.parseISO8601("2025-03-01T00:00:00Z")!.milliseconds, april = Timestamp.parseISO8601("2025-04-01T00:00:00Z")!.milliseconds
            try db.sql("CREATE TABLE pings_p202503 PARTITION OF pings FOR VALUES FROM (\(march)) TO (\(april))")
        }
        for (i, (uuid, host, payload, edition, tier)) in [
            (InternalInstallations.gitlabComUUID, "gitlab.com", Self.internalPayload, "EEP", "premium"),
            ("u-2", "registry.example.org", Self.customerPayload, "CE", "free"),
        ].enumerated() {
            let recorded = at + Int64(i) * 3_600_000
            let compressed = PayloadCodec.compress(Array(payload.utf8))
            try db.sql("""
                INSERT INTO installations (id, uuid, hostname, first_seen_at, last_seen_at, latest_ping_id, latest_recorded_at,
                                           version, version_major, version_minor, edition, tier, registry_enabled)
                VALUES ($1, $2, $3, $4, $4, $1, $4, '17.9.0', 17, 9, $5, $6, 1)
                """, [.integer(Int64(i + 1)), .text(uuid), .text(host), .integer(recorded), .text(edition), .text(tier)])
            try db.sql("""
                INSERT INTO pings (id, installation_id, recorded_at, received_at, version, version_major, version_minor, edition, tier,
                                   registry_enabled, payload_encoding, payload_size, payload, observations)
                VALUES ($1, $1, $2, $2, '17.9.0', 17, 9, $3, $4, 1, $5, $6, $7, '')
                """, [.integer(Int64(i + 1)), .integer(recorded), .text(edition), .text(tier), .text(compressed.encoding),
                      .integer(Int64(compressed.originalSize)), .blob(compressed.bytes)])
        }
        try db.sql("INSERT INTO rollup_tuples (id, edition, tier, installation_type, version, registry_vendor) VALUES (5, 'EEP', 'premium', 'unknown', '17.9', 'unknown')")
        let week = PeriodKind.week.start(of: Timestamp(milliseconds: at))
        try db.sql("""
            INSERT INTO rollup_cells (period, period_start, tuple_id, metric, cell, count, sum_units, sum_micros, sum_high)
            VALUES (1, $1, 5, '', 'installations', 1, 0, 0, 0)
            """, [.integer(week)])
        try db.sql("INSERT INTO rollup_metrics (metric, definition, built_at) VALUES ('', 'installations|1', 0)")
        if db.backend == .postgres {
            // Rows were written with explicit ids, as SQLite's would be; move the generators on.
            try db.sql("SELECT setval('pings_id_seq', 10), setval(pg_get_serial_sequence('installations', 'id'), 10)")
        }
    }

    @Test(arguments: Backend.available)
    func anUpgradedDatabaseKeepsItsCellsAsksForAFullRebuildAndTheRebuildReDerivesTheFacts(backend: Backend) throws {
        let db = TestDatabase(backend)
        try fillAsSchema7(db)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }

        // Old tuples keep their ids and read as not internal, optional metrics unknown.
        let cells = try store.rollupCells(metrics: [""])
        let old = RollupTuple(fields: ["EEP", "premium", "unknown", "17.9", "unknown", "false", "unknown"])
        #expect(cells.count == 1 && cells.first?.key.tuple == old && cells.first?.value.count == 1, "\(cells)")
        #expect(try store.prepareRollups().first == "(installations)")

        // New tuples get fresh ids after the copied ones (PostgreSQL's identity was moved on).
        let later = Array(#"{"uuid":"u-3","hostname":"dev.gitlab.com","recorded_at":"2025-03-06T10:00:00Z"}"#.utf8)
        let facts = try PayloadExtractor(catalog: Self.catalog).extract(later, receivedAt: .now())
        _ = try store.write([.ping(PingRecord(facts: facts, receivedAt: .now(), payload: PayloadCodec.compress(later)))])
        #expect(try db.sql("SELECT COUNT(*) FROM rollup_tuples").first?[0].int64 == 2)

        let report = try store.rebuildRollups(metrics: nil, progress: nil)
        #expect(report.pings == 3)
        let pings = try db.sql("SELECT id, internal, data_categories, tier FROM pings ORDER BY id")
        #expect(pings.map { $0[1].int64 } == [1, 0, 1])
        #expect(pings[0][2].string == "operational,standard,subscription" && pings[1][2].string == nil)
        #expect(pings[0][3].string == "free", "the licence expired before the ping")
        let installations = try store.installations(after: 0, limit: 10)
        #expect(installations.map(\.isInternal) == [true, false, true])
        #expect(installations[0].tier == "free" && installations[0].tuple.optionalMetrics == "not_collected")

        let query = SeriesQuery(metric: Self.catalog.metrics[1], interval: .week, from: days(isoDate: "2025-03-03")!,
                                to: days(isoDate: "2025-03-09")!, groupBy: .internal)
        func point(_ q: SeriesQuery, _ group: String) throws -> SeriesPoint? {
            try store.series(q).first { $0.group == group }?.points.first
        }
        // By default internal installations are left out; asked for, the vendor GitLab.com does
        // not send (optional metrics off) is not_collected, not unknown.
        #expect(try point(query, "true") == nil)
        #expect(try point(query, "false")?.installations == 1)
        var all = query
        all.includeInternal = true
        #expect(try point(all, "true")?.installations == 2)
        #expect(try point(all, "true")?.count(RollupContributor.notCollectedCell) == 1)
        #expect(try point(all, "true")?.count("unknown") == 1, "dev.gitlab.com sends no categories")
        var onlyInternal = query
        onlyInternal.filters = [.internal: ["true"]]
        #expect(try point(onlyInternal, "true")?.installations == 2, "an explicit internal filter overrides the default")
        #expect(try store.verifyRollups(progress: nil).isClean)
        #expect(try store.prepareRollups().isEmpty)
    }
}
