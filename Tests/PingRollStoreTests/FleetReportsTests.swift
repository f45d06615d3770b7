import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// What the estimates read: each installation's latest ping of a period with its group and
/// state, the same the rollups count; and the population. Both backends.
@Suite struct FleetReportsTests {
    static let db = MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean, sinceVersion: "16.5")

    @Test(arguments: Backend.available)
    func reportsAreTheLatestPingOfEachInstallationAsTheSeriesCountsIt(backend: Backend) throws {
        let catalog = try MetricCatalog(metrics: [Self.db])
        let database = TestDatabase(backend)
        let store = try database.open(catalog: catalog)
        defer { store.close() }
        let extractor = PayloadExtractor(catalog: catalog)
        // (uuid, edition, time, db_enabled): b switches on later in the week (its latest ping counts),
        // d is silent in the second week, e is internal.
        let pings: [(String, String, String, Bool?)] = [
            ("a", "EE", "2025-01-07T10:00:00Z", true), ("b", "CE", "2025-01-07T10:00:00Z", false), ("b", "CE", "2025-01-09T10:00:00Z", true),
            ("c", "EE", "2025-01-08T10:00:00Z", nil), ("d", "EE", "2025-01-08T10:00:00Z", false), ("e", "EE", "2025-01-08T10:00:00Z", true),
            ("a", "EE", "2025-01-14T10:00:00Z", true), ("b", "CE", "2025-01-14T10:00:00Z", true), ("c", "EE", "2025-01-15T10:00:00Z", false),
        ]
        for (uuid, edition, time, enabled) in pings {
            var members = [#""uuid":"\#(uuid)""#, #""recorded_at":"\#(time)""#, #""edition":"\#(edition)""#, #""version":"16.6.0-ee""#]
            if let enabled { members.append(#""container_registry_server":{"db_enabled":\#(enabled)}"#) }
            if uuid == "e" { members.append(#""hostname":"gitlab.com""#) }
            let bytes = Array(("{" + members.joined(separator: ",") + "}").utf8)
            let now = Timestamp.now()
            _ = try store.write([.ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: now), receivedAt: now, payload: PayloadCodec.compressPing(bytes)))])
        }
        let first = PeriodKind.week.start(of: Timestamp.parseISO8601("2025-01-07T10:00:00Z")!)
        let second = PeriodKind.week.next(after: first)
        #expect(try store.fleetPeriodRange(interval: .week) == first...second)
        let filters = SeriesQuery.applyingInternalDefault([:], includeInternal: false)
        let week1 = try store.fleetReports(metric: Self.db, interval: .week, periodStart: first, groupBy: .edition, filters: filters)
        #expect(week1.map(\.state) == [.true, .true, .unknown, .false, .true], "\(week1)")
        #expect(week1.map(\.group) == ["EE", "CE", "EE", "EE", "EE"])
        #expect(week1.map(\.counted) == [true, true, true, true, false], "the internal installation reported, but is not counted")
        #expect(week1.map(\.installation) == week1.map(\.installation).sorted())
        // The same counts the series has.
        let series = try store.series(SeriesQuery(metric: Self.db, interval: .week, from: first, to: second))
        let points = try #require(series.first?.points)
        for (point, start) in zip(points, [first, second]) {
            let reports = try store.fleetReports(metric: Self.db, interval: .week, periodStart: start, groupBy: nil, filters: filters).filter(\.counted)
            #expect(Int64(reports.count) == point.installations)
            #expect(Int64(reports.count { $0.state == .true }) == point.count(Cell.true))
            #expect(Int64(reports.count { $0.state == .false }) == point.count(Cell.false))
        }
        // Estimated from the store: d is silent in week 2 and last said false; nobody came back
        // from false to measure a change on, so it counts as false.
        var timeline = FleetTimeline(lookback: 8)
        _ = timeline.advance(start: first, reports: try store.fleetReports(metric: Self.db, interval: .week, periodStart: first, groupBy: nil, filters: filters))
        let p = timeline.advance(start: second, reports: try store.fleetReports(metric: Self.db, interval: .week, periodStart: second, groupBy: nil, filters: filters))
        let estimate = try #require(FleetTimeline.estimate(p, method: .lastValue, lookback: 8)["all"])
        #expect(estimate.silent == 1 && estimate.trueCount == 2 && estimate.falseCount == 1 && estimate.expected == 4)
    }

    @Test(arguments: Backend.available)
    func thePopulationIsReplacedWhole(backend: Backend) throws {
        let database = TestDatabase(backend)
        let store = try database.open(catalog: try MetricCatalog(metrics: [Self.db]))
        defer { store.close() }
        #expect(try store.population().isEmpty)
        let rows = try PopulationCSV.parse("period_start,dimension,value,installations\n2026-11,all,,900\n2026-11-01,tier,premium,300\n2026-10-01,tier,premium,280\n")
        try store.replacePopulation(rows)
        #expect(try store.population() == rows.sorted { ($0.dimension, $0.value, $0.periodStart) < ($1.dimension, $1.value, $1.periodStart) })
        try store.replacePopulation(Array(rows.prefix(1)))
        #expect(try store.population() == Array(rows.prefix(1)))
    }
}
