import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

@Suite struct RollupRebuildVerifyTests {
    static let base = RollupPropertyTests.catalog

    func ingest(_ store: any PingStore, _ jsons: [String]) throws {
        let extractor = PayloadExtractor(catalog: store.catalog)
        let now = Timestamp.parseISO8601("2025-06-01T00:00:00Z")!
        for json in jsons {
            let facts = try extractor.extract(Array(json.utf8), receivedAt: now)
            _ = try store.write([.ping(PingRecord(facts: facts, receivedAt: now, payload: PayloadCodec.compress(Array(json.utf8))))])
        }
    }

    func ping(_ uuid: String, _ at: String, users: Int, extra: String = "") -> String {
        #"{"uuid":"\#(uuid)","recorded_at":"\#(at)","edition":"EEP","version":"16.5.1-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":true,"version":"3.85.0-gitlab"},"active_user_count":\#(users)\#(extra)}"#
    }

    @Test(arguments: Backend.available)
    func aDatabaseBuiltWithTheOldDbEnabledRuleComesOutRightAfterTheStaleMetricIsRebuilt(backend: Backend) throws {
        let db = TestDatabase(backend)
        let old = try MetricCatalog(metrics: [MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean, when: [
            MetricCondition(keyPath: "container_registry_enabled", equals: .bool(true)),
            MetricCondition(keyPath: "container_registry_server.vendor", equals: .string("gitlab")),
        ])])
        let optionalOff = #"{"uuid":"ee","recorded_at":"2025-03-03T00:00:00Z","container_registry_enabled":true,"container_registry_server":{"db_enabled":true}}"#
        do {
            let store = try db.open(catalog: old)
            defer { store.close() }
            _ = try store.prepareRollups()
            try ingest(store, [optionalOff])
            #expect(try store.rollupCells(metrics: ["container_registry_server.db_enabled"]).keys.allSatisfy { $0.cell == "unknown" })
        }
        let shipped = try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8))
        let store = try db.open(catalog: try MetricCatalog(metrics: [shipped.metric("container_registry_server.db_enabled")!]))
        defer { store.close() }
        #expect(try store.prepareRollups() == ["container_registry_server.db_enabled"], "the changed rule makes the metric stale")
        _ = try store.rebuildRollups(metrics: ["container_registry_server.db_enabled"], progress: nil)
        let cells = try store.rollupCells(metrics: ["container_registry_server.db_enabled"])
        #expect(!cells.isEmpty && cells.keys.allSatisfy { $0.cell == "true" }, "\(cells)")
        #expect(try store.verifyRollups(progress: nil).isClean)
    }

    @Test(arguments: Backend.available)
    func aLaterPingInTheSamePeriodReplacesTheEarlierOne(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.base)
        defer { store.close() }
        _ = try store.prepareRollups()
        // Same ISO week (Mon 2024-12-30 .. Sun 2025-01-05), different days and months; the later one arrives first.
        try ingest(store, [ping("u", "2025-01-05T23:59:00Z", users: 20), ping("u", "2024-12-31T10:00:00Z", users: 10)])
        let week = try store.rollupCells(metrics: ["active_user_count"]).filter { $0.key.period == .week && $0.key.cell == "reporting" }
        #expect(week.count == 1 && week.first?.value == CellValue(count: 1, sumUnits: 20))
        let months = try store.rollupCells(metrics: [""]).filter { $0.key.period == .month }
        #expect(months.count == 2 && months.values.allSatisfy { $0.count == 1 })
    }

    @Test(arguments: Backend.available)
    func verifyFindsAHandCorruptedRowAMissingRowAndAnExtraRow(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.base)
        defer { store.close() }
        _ = try store.prepareRollups()
        try ingest(store, [ping("a", "2024-03-01T00:00:00Z", users: 5), ping("b", "2024-03-02T00:00:00Z", users: 7)])
        #expect(try store.verifyRollups(progress: nil).isClean)

        try db.sql("UPDATE rollup_cells SET count = count + 1 WHERE metric = 'active_user_count' AND cell = 'reporting' AND period = 2")
        var result = try store.verifyRollups(progress: nil)
        #expect(result.differences.count == 1)
        #expect(result.differences.first?.live?.count == 3 && result.differences.first?.expected?.count == 2)

        try db.sql("DELETE FROM rollup_cells WHERE metric = '' AND period = 0")
        try db.sql("INSERT INTO rollup_cells SELECT 1, 1, MIN(id), 'container_registry_enabled', 'true', 4, 0, 0, 0 FROM rollup_tuples")
        result = try store.verifyRollups(progress: nil)
        #expect(result.differences.count == 1 + 2 + 1)
        #expect(result.differences.contains { $0.live == nil && $0.key.metric == "" })
        #expect(result.differences.contains { $0.expected == nil && $0.key.periodStart == 1 })

        let report = try store.rebuildRollups(metrics: nil, progress: nil)
        #expect(report.pings == 2)
        #expect(try store.verifyRollups(progress: nil).isClean)
    }

    /// Live cells whose names no recomputation produces (a bucket spelled with a leading zero,
    /// an unadmitted value, a malformed bucket, a metric outside the catalog's active list) are
    /// each reported, never matched to a recomputed cell.
    @Test(arguments: Backend.available)
    func verifyReportsLiveCellsWithNamesNoRecomputationProduces(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.base)
        defer { store.close() }
        _ = try store.prepareRollups()
        try ingest(store, [ping("a", "2024-03-01T00:00:00Z", users: 5)])
        #expect(try store.verifyRollups(progress: nil).isClean)
        let week = try #require(try db.sql("SELECT period_start, tuple_id FROM rollup_cells WHERE metric = 'active_user_count' AND cell = 'reporting' AND period = 1").first)
        let real = try #require(try store.rollupCells(metrics: ["active_user_count"]).keys.first { $0.period == .week && $0.cell.hasPrefix("b:") })
        let padded = "b:+0" + real.cell.dropFirst(3)
        for cell in [padded, "b:x", "b:+99999", "v:never-admitted", "true"] {
            _ = try db.sql("INSERT INTO rollup_cells (period, period_start, tuple_id, metric, cell, count, sum_units, sum_micros, sum_high) VALUES (1, $1, $2, 'active_user_count', $3, 1, 0, 0, 0)",
                           [week[0], week[1], .text(cell)])
        }
        let result = try store.verifyRollups(progress: nil)
        #expect(result.differences.count == 5 && result.differences.allSatisfy { $0.expected == nil && $0.live?.count == 1 },
                "\(result.differences)")
        _ = try store.rebuildRollups(metrics: nil, progress: nil)
        #expect(try store.verifyRollups(progress: nil).isClean)
    }

    @Test(arguments: Backend.available)
    func aMetricAddedToTheCatalogIsStaleUntilRebuiltThenHasItsWholeHistory(backend: Backend) throws {
        let db = TestDatabase(backend)
        var store = try db.open(catalog: Self.base)
        _ = try store.prepareRollups()
        try ingest(store, [ping("a", "2024-03-01T00:00:00Z", users: 5, extra: #","gitaly":{"servers":3}"#),
                           ping("b", "2024-04-02T00:00:00Z", users: 7, extra: #","gitaly":{"servers":-1}"#)])
        store.close()

        let extended = try MetricCatalog(metrics: Self.base.metrics + [MetricDefinition(keyPath: "gitaly.servers", valueType: .number)])
        store = try db.open(catalog: extended, migrate: false)
        defer { store.close() }
        #expect(try store.prepareRollups() == ["gitaly.servers"])
        try ingest(store, [ping("c", "2024-04-03T00:00:00Z", users: 1, extra: #","gitaly":{"servers":2}"#)])
        // Not maintained while stale, and verify says so.
        #expect(try store.rollupCells(metrics: ["gitaly.servers"]).isEmpty)
        let stale = try store.verifyRollups(progress: nil)
        #expect(stale.stale == ["gitaly.servers"] && stale.differences.isEmpty && !stale.isClean)

        let report = try store.rebuildRollups(metrics: ["gitaly.servers"], progress: nil)
        #expect(report.metrics == ["gitaly.servers"] && report.pings == 3)
        let cells = try store.rollupCells(metrics: ["gitaly.servers"]).filter { $0.key.period == .month }
        let march = cells.filter { isoDate(days: $0.key.periodStart) == "2024-03-01" }
        let april = cells.filter { isoDate(days: $0.key.periodStart) == "2024-04-01" }
        #expect(march.first { $0.key.cell == "reporting" }?.value == CellValue(count: 1, sumUnits: 3))
        #expect(april.first { $0.key.cell == "failed" }?.value.count == 1)
        #expect(april.first { $0.key.cell == "reporting" }?.value == CellValue(count: 1, sumUnits: 2))
        #expect(try store.prepareRollups().isEmpty)
        #expect(try store.verifyRollups(progress: nil).isClean)

        // From now on it is maintained incrementally.
        try ingest(store, [ping("c", "2024-04-20T00:00:00Z", users: 1, extra: #","gitaly":{"servers":4}"#)])
        #expect(try store.verifyRollups(progress: nil).isClean)
    }

    @Test(arguments: Backend.available)
    func stringValuesBeyondTheCapCountAsOther(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.base)
        defer { store.close() }
        _ = try store.prepareRollups()
        let versions = ["3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0"]
        try ingest(store, versions.enumerated().map { i, v in
            #"{"uuid":"i\#(i)","recorded_at":"2024-03-01T00:00:00Z","container_registry_server":{"version":"\#(v)"}}"#
        })
        let cells = try store.rollupCells(metrics: ["container_registry_server.version"]).filter { $0.key.period == .day }
        #expect(Set(cells.keys.map(\.cell)) == ["v:3.1.0", "v:3.2.0", "v:3.3.0", "other"])
        #expect(cells.first { $0.key.cell == "other" }?.value.count == 2)
        #expect(try store.verifyRollups(progress: nil).isClean)
    }

    @Test(arguments: Backend.available)
    func aStoreWithoutACatalogKeepsNoRollups(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        _ = try store.write([.ping(pingRecord(recordedAt: "2024-01-15T10:00:00Z"))])
        #expect(try store.rollupCells(metrics: nil).isEmpty)
        #expect(throws: StorageError.self) { try store.verifyRollups(progress: nil) }
    }
}
