import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// A drill-down lists exactly the installations a series cell counts.
@Suite struct CellMembersTests {
    static let catalog = RollupPropertyTests.catalog

    /// Every member of the cell, read `pageSize` at a time through the cursor.
    static func allMembers(_ store: any PingStore, _ query: CellMembersQuery, pageSize: Int) throws -> [CellMember] {
        var q = query
        q.limit = pageSize
        var members: [CellMember] = []
        for _ in 0..<10_000 {
            let page = try store.cellMembers(q)
            members += page.members
            guard let next = page.nextCursor else { return members }
            #expect(page.members.count == pageSize, "a page before the last is full")
            q.after = next
        }
        Issue.record("the cursor never ended")
        return members
    }

    @Test(arguments: Backend.available)
    func theInstallationsListedForACellAreExactlyAsManyAsTheCellCounts(backend: Backend) throws {
        var checked = 0, nonEmpty = 0
        for seed in UInt64(1)...6 {
            let (_, db, store) = try OnlineRebuildTests().seeded(backend, seed: seed)
            defer { store.close() }
            let admitted = try RollupPropertyTests.admittedValues(db)
            let cells = try store.rollupCells(metrics: nil)
            let filterSets: [([PingRollCore.Dimension: Set<String>], Bool)] = [([:], false), ([:], true), ([.edition: ["EEP", "CE"]], false),
                                                                  ([.internal: ["true"]], false)]
            for kind in PeriodKind.allCases {
                let starts = Set(cells.keys.filter { $0.period == kind }.map(\.periodStart)).sorted()
                for start in starts {
                    for metric in Self.catalog.metrics where metric.periods.contains(kind) {
                        var selectors: [CellSelector] = [.installations] + CellSelector.fixed(for: metric.valueType).map { .cell($0) }
                        selectors += (admitted[metric.keyPath] ?? []).sorted().map { .value($0) }
                        for (filters, includeInternal) in filterSets {
                            let series = try store.series(SeriesQuery(metric: metric, interval: kind, from: start, to: start,
                                                                      filters: filters, includeInternal: includeInternal))
                            let point = series.first?.points.first
                            let effective = SeriesQuery.applyingInternalDefault(filters, includeInternal: includeInternal)
                            for selector in selectors {
                                let expected: Int64 = switch selector {
                                case .installations: point?.installations ?? 0
                                case .cell(let c): point?.count(c) ?? 0
                                case .value(let v): point?.count(RollupContributor.valueCell(v)) ?? 0
                                }
                                let query = CellMembersQuery(metric: metric, interval: kind, periodStart: start, selector: selector, filters: effective)
                                let members = try Self.allMembers(store, query, pageSize: 1 + Int(seed % 3))
                                #expect(Int64(members.count) == expected,
                                        "seed \(seed) \(kind) \(isoDate(days: start)) \(metric.keyPath) \(selector) \(filters) internal \(includeInternal): \(members.count) listed, \(expected) counted")
                                #expect(Set(members.map(\.installation.id)).count == members.count, "no installation twice")
                                #expect(members.allSatisfy { kind.start(of: $0.recordedAt) == start }, "the counted ping is of the period")
                                checked += 1
                                if expected > 0 { nonEmpty += 1 }
                            }
                        }
                    }
                }
            }
        }
        #expect(checked > 1_000 && nonEmpty > 300, "\(checked) cells checked, \(nonEmpty) not empty")
    }

    /// A real value that reads like a fixed cell (`other`, `unknown`), starts with `v:`, or is
    /// empty never shares a key with the folded remainder: for every key a string point lists,
    /// drill-down with that key as `value=` returns exactly the count listed.
    @Test(arguments: Backend.available)
    func everyListedStringKeyDrillsDownToExactlyItsCount(backend: Backend) throws {
        let vendor = MetricDefinition(keyPath: "container_registry_server.vendor", valueType: .string, maxValues: 3)
        let catalog = try MetricCatalog(metrics: [vendor])
        let db = TestDatabase(backend)
        let store = try db.open(catalog: catalog)
        defer { store.close() }
        let extractor = PayloadExtractor(catalog: catalog)
        // Admitted in write order: other, unknown, v:z; the rest folds into the remainder.
        let vendors = ["other", "other", "other", "unknown", "v:z", "gitlab", "x", "y", "y", ""]
        for (i, v) in vendors.enumerated() {
            let bytes = Array(#"{"uuid":"vendor-\#(i)","recorded_at":"2025-01-07T10:00:00Z","container_registry_enabled":true,"container_registry_server":{"vendor":"\#(v)"}}"#.utf8)
            let now = Timestamp.now()
            _ = try store.write([.ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: now), receivedAt: now, payload: PayloadCodec.compressPing(bytes)))])
        }
        let start = PeriodKind.week.start(of: Timestamp.parseISO8601("2025-01-07T10:00:00Z")!)
        let point = try #require(try store.series(SeriesQuery(metric: vendor, interval: .week, from: start, to: start)).first?.points.first)
        let listed = point.values
        #expect(Set(listed.map(\.0)).count == listed.count, "no key twice: \(listed)")
        #expect(Dictionary(listed, uniquingKeysWith: +) == ["v:other": 3, "v:unknown": 1, "v:v:z": 1, "other": 4], "\(listed)")
        for (key, count) in listed {
            let selector = try #require(CellSelector.parse(key, type: .string), "\(key)")
            let query = CellMembersQuery(metric: vendor, interval: .week, periodStart: start, selector: selector,
                                         filters: SeriesQuery.applyingInternalDefault([:], includeInternal: false))
            #expect(Int64(try Self.allMembers(store, query, pageSize: 2).count) == count, "\(key)")
        }
    }
}
