import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// `not_eligible`: of the installations counted unknown, those on a GitLab version older than the
/// metric's `since_version`, which cannot send it. Read-time sums, on both backends.
@Suite struct NotEligibleTests {
    static let db = MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean, sinceVersion: "16.5")

    @Test(arguments: Backend.available)
    func unknownsFromVersionsBeforeTheMetricAreNotEligible(backend: Backend) throws {
        let catalog = try MetricCatalog(metrics: [Self.db])
        let database = TestDatabase(backend)
        let store = try database.open(catalog: catalog)
        defer { store.close() }
        let extractor = PayloadExtractor(catalog: catalog)
        // (uuid, version, db_enabled): 15.x and 16.4 without it cannot send it; 16.5 without it did not;
        // a 16.4 that sent it counts as what it sent; an unknown version is not known to be too old.
        let pings: [(String, String?, Bool?)] = [("a", "15.11.3-ee", nil), ("b", "16.4.1-ee", nil), ("c", "16.5.0-ee", nil),
                                                 ("d", "16.5.1-ee", true), ("e", "16.4.0-ee", false), ("f", nil, nil)]
        for (uuid, version, enabled) in pings {
            var members = [#""uuid":"\#(uuid)""#, #""recorded_at":"2025-01-07T10:00:00Z""#]
            if let version { members.append(#""version":"\#(version)""#) }
            if let enabled { members.append(#""container_registry_server":{"db_enabled":\#(enabled)}"#) }
            let bytes = Array(("{" + members.joined(separator: ",") + "}").utf8)
            let now = Timestamp.now()
            _ = try store.write([.ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: now), receivedAt: now, payload: PayloadCodec.compressPing(bytes)))])
        }
        let start = PeriodKind.week.start(of: Timestamp.parseISO8601("2025-01-07T10:00:00Z")!)
        let query = SeriesQuery(metric: Self.db, interval: .week, from: start, to: start)
        let point = try #require(try store.series(query).first?.points.first)
        #expect(point.count(Cell.unknown) == 4 && point.notEligible == 2 && point.count(Cell.true) == 1 && point.count(Cell.false) == 1,
                "\(point.cells)")
        var byVersion = query
        byVersion.groupBy = .version
        let groups = Dictionary(uniqueKeysWithValues: try store.series(byVersion).map { ($0.group, $0.points[0]) })
        #expect(groups["15.11"]?.notEligible == 1 && groups["16.4"]?.notEligible == 1 && groups["16.5"]?.notEligible == 0
                && groups["unknown"]?.notEligible == 0, "\(groups.mapValues(\.notEligible))")
        // The in-memory path (recompute, tests) agrees with the SQL one.
        #expect(Series.compute(query, cells: try store.rollupCells(metrics: nil)) == (try store.series(query)))
        // A metric without since_version has none.
        let plain = SeriesQuery(metric: MetricDefinition(keyPath: Self.db.keyPath, valueType: .boolean), interval: .week, from: start, to: start)
        #expect(try store.series(plain).first?.points.first?.notEligible == 0)
    }

    @Test func sinceVersionIsMajorDotMinorAndChangesNoRollup() throws {
        #expect(throws: CatalogError.self) { try MetricCatalog(metrics: [MetricDefinition(keyPath: "x", valueType: .boolean, sinceVersion: "16")]) }
        #expect(throws: CatalogError.self) { try MetricCatalog(metrics: [MetricDefinition(keyPath: "x", valueType: .boolean, sinceVersion: "16.5.1")]) }
        #expect(MetricDefinition(keyPath: "x", valueType: .boolean, sinceVersion: "16.5").definitionText
                == MetricDefinition(keyPath: "x", valueType: .boolean).definitionText)
        let shipped = try #require(try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8)).metric("container_registry_server.db_enabled"))
        #expect(shipped.sinceVersion == "16.5", "GitLab's milestone for db_enabled (config/metrics/license/20230926091801_db_enabled.yml)")
        #expect(shipped.isBeforeSince("16.4") && !shipped.isBeforeSince("16.5") && !shipped.isBeforeSince("17.0") && shipped.isBeforeSince("9.12")
                && !shipped.isBeforeSince("unknown"))
    }
}
