import Foundation
import Testing
@testable import PingRollCore

@Suite struct PeriodTests {
    func day(_ text: String) -> Int64 { days(isoDate: text)! }
    func at(_ text: String) -> Timestamp { Timestamp.parseISO8601(text)! }

    @Test func isoWeeksStartOnMondayAcrossTheYearEnd() {
        // 2024-12-31 is a Tuesday, 2025-01-01 a Wednesday: both in the week of Monday 2024-12-30.
        #expect(PeriodKind.week.start(of: at("2024-12-31T12:00:00Z")) == day("2024-12-30"))
        #expect(PeriodKind.week.start(of: at("2025-01-01T00:00:00Z")) == day("2024-12-30"))
        // A Sunday 23:59 UTC ping belongs to the week that started six days before.
        #expect(PeriodKind.week.start(of: at("2025-01-05T23:59:59.999Z")) == day("2024-12-30"))
        #expect(PeriodKind.week.start(of: at("2025-01-06T00:00:00Z")) == day("2025-01-06"))
        // In UTC, whatever offset it was written with.
        #expect(PeriodKind.week.start(of: at("2025-01-06T00:30:00+01:00")) == day("2024-12-30"))
        #expect(PeriodKind.week.start(of: at("1970-01-01T00:00:00Z")) == day("1969-12-29"))
    }

    @Test func monthsAndDaysSplitExactlyAtMidnightUTC() {
        #expect(PeriodKind.month.start(of: at("2024-02-29T23:59:59.999Z")) == day("2024-02-01"))
        #expect(PeriodKind.month.start(of: at("2024-03-01T00:00:00Z")) == day("2024-03-01"))
        #expect(PeriodKind.month.start(of: at("2024-12-31T23:59:59Z")) == day("2024-12-01"))
        #expect(PeriodKind.day.start(of: at("2024-03-01T00:00:00Z")) == day("2024-03-01"))
        #expect(PeriodKind.day.start(of: at("2024-02-29T23:59:59.999Z")) == day("2024-02-29"))
    }

    @Test func nextPeriodFollowsTheCalendar() {
        #expect(PeriodKind.month.next(after: day("2024-12-01")) == day("2025-01-01"))
        #expect(PeriodKind.month.next(after: day("2024-01-01")) == day("2024-02-01"))
        #expect(PeriodKind.week.next(after: day("2024-12-30")) == day("2025-01-06"))
        #expect(isoDate(days: day("2024-02-29")) == "2024-02-29")
        #expect(days(isoDate: "2023-02-29") == nil)
    }
}

@Suite struct ObservationTests {
    func n(_ text: String) -> CapturedValue { .number(JSONNumber(text: text)) }

    @Test(arguments: ["-1", "-2", "-1000", "-1.0"])
    func failureValuesAreFailedForNumbersAndStringsAndUnknownForBooleans(text: String) {
        #expect(MetricObservation.interpret(n(text), as: .number) == .failed)
        #expect(MetricObservation.interpret(n(text), as: .string) == .failed)
        #expect(MetricObservation.interpret(n(text), as: .boolean) == nil)
    }

    @Test func theHistogramFailureObjectIsFailed() {
        #expect(MetricObservation.interpret(.object(compactText: #"{"-1":-1}"#), as: .number) == .failed)
        #expect(MetricObservation.interpret(.object(compactText: #"{"a":1}"#), as: .number) == nil)
    }

    @Test func wrongTypesAndMissingValuesAreUnknown() {
        #expect(MetricObservation.interpret(.string("5"), as: .number) == nil)
        #expect(MetricObservation.interpret(.bool(true), as: .number) == nil)
        #expect(MetricObservation.interpret(n("1"), as: .boolean) == nil)
        #expect(MetricObservation.interpret(n("3"), as: .string) == nil)
        #expect(MetricObservation.interpret(.string(""), as: .string) == nil)
        #expect(MetricObservation.interpret(.null, as: .boolean) == nil)
        #expect(MetricObservation.interpret(nil, as: .number) == nil)
        #expect(MetricObservation.interpret(n("1e999"), as: .number) == .outOfRange)  // a number, just not a summable one
    }

    @Test func valuesOfTheRightTypeAreKept() {
        #expect(MetricObservation.interpret(.bool(false), as: .boolean) == .bool(false))
        #expect(MetricObservation.interpret(n("-3"), as: .number) == .number(-3))
        #expect(MetricObservation.interpret(n("0.995"), as: .number) == .number(0.995))
        #expect(MetricObservation.interpret(.string("3.85.0-gitlab"), as: .string) == .string("3.85.0-gitlab"))
    }

    @Test func theCodecRoundTrips() {
        let o: [String: MetricObservation] = ["a": .bool(true), "b.c": .bool(false), "n": .number(-12.25), "i": .number(42),
                                              "s": .string("x=y\nz\\"), "f": .failed]
        #expect(ObservationCodec.decode(ObservationCodec.encode(o)) == o)
        #expect(ObservationCodec.decode("") == [:])
    }
}

@Suite struct CellTests {
    @Test func sumsAreExactInAnyOrder() {
        let values: [Double] = [0.1, 0.2, 0.3, 1e12, -7.000001, 0.999999]
        var forward = CellValue.zero, backward = CellValue.zero
        for v in values { forward = forward + .reporting(v)! }
        for v in values.reversed() { backward = backward + .reporting(v)! }
        #expect(forward == backward)
        for v in values { forward = forward + -CellValue.reporting(v)! }
        #expect(forward.isZero)
    }

    @Test func sumsOfTheLargestNumbersNeverOverflow() {
        // 2^20 installations each reporting 2^53 would overflow a 64-bit sum 2^10 times over.
        let one = CellValue.reporting(9_007_199_254_740_992)!
        var total = CellValue.zero
        var doubling = one
        for _ in 0..<20 { doubling = doubling + doubling }
        total = total + doubling + -one
        #expect(total.count == (1 << 20) - 1)
        #expect(total.exactMicros == Int128((1 << 20) - 1) * Int128(9_007_199_254_740_992) * 1_000_000)
        #expect(total.sum == Double((1 << 20) - 1) * 9_007_199_254_740_992)
    }

    @Test func numbersBeyondTwoToThe53AreNotSummable() {
        #expect(CellValue.reporting(9_007_199_254_740_994) == nil)
        #expect(CellValue.reporting(-8e18) == nil)
        #expect(CellValue.reporting(.infinity) == nil)
        #expect(CellValue.reporting(.nan) == nil)
        #expect(CellValue.reporting(-9_007_199_254_740_992)?.sum == -9_007_199_254_740_992)
    }

    @Test func cellsEqualByExactValueHoweverTheLimbsSplit() {
        #expect(CellValue(count: 1, sumHigh: 1, sumUnits: 0) == CellValue(count: 1, sumUnits: 1 << 26))
        #expect(CellValue(count: 1, sumUnits: 1, sumMicros: -1_000_000).isZero == false)
        #expect(CellValue(count: 0, sumUnits: 1, sumMicros: -1_000_000).isZero)
    }

    @Test func outOfRangeNumbersAreObservedAsSuch() {
        let big = CapturedValue.number(JSONNumber(text: "8000000000000000000"))
        #expect(MetricObservation.interpret(big, as: .number) == .outOfRange)
        #expect(MetricObservation.interpret(.number(JSONNumber(text: "1e400")), as: .number) == .outOfRange)
        #expect(ObservationCodec.decode(ObservationCodec.encode(["a": .outOfRange])) == ["a": .outOfRange])
        var deltas: [CellKey: CellValue] = [:]
        RollupContributor(metrics: [MetricDefinition(keyPath: "a", valueType: .number)])
            .add(tuple: RollupTuple(fields: ["x", "x", "x", "x", "x", "false", "unknown"]), observations: ["a": .number(8e18)], period: .day, periodStart: 0,
                 sign: 1, includeInstallations: false, into: &deltas, stringCell: { _, _ in "" })
        #expect(deltas.keys.map(\.cell) == ["out_of_range"])
    }

    @Test func logBucketsContainTheirValues() {
        for v in [1.0, 1.1, 1.19, 1.2, 2, 3, 100, 1234.5, 0.001, 5e9] {
            let bounds = LogBuckets.bounds(of: LogBuckets.cell(for: v))!
            #expect(bounds.low <= v && v < bounds.high, "\(v) in \(bounds)")
            let negative = LogBuckets.bounds(of: LogBuckets.cell(for: -v))!
            #expect(negative.low < -v && -v <= negative.high)
        }
        #expect(LogBuckets.cell(for: 0) == "b:0")
        #expect(LogBuckets.cell(for: 1) == "b:+0" && LogBuckets.cell(for: 2) == "b:+4")
    }

    @Test func aPingContributesOneCellPerMetricAndItsInstallation() {
        let catalog = try! MetricCatalog(metrics: [
            MetricDefinition(keyPath: "b", valueType: .boolean),
            MetricDefinition(keyPath: "n", valueType: .number),
            MetricDefinition(keyPath: "s", valueType: .string),
            MetricDefinition(keyPath: "monthly", valueType: .boolean, periods: [.month]),
        ])
        let tuple = RollupTuple(edition: "EEP", tier: "premium", installationType: nil, versionMajor: 16, versionMinor: 5, registryVendor: "")
        #expect(tuple.installationType == "unknown" && tuple.registryVendor == "unknown" && tuple.version == "16.5")
        var deltas: [CellKey: CellValue] = [:]
        RollupContributor(metrics: catalog.metrics).add(
            tuple: tuple, observations: ["b": .bool(true), "n": .number(2.5), "s": .failed], period: .week, periodStart: 0,
            sign: 1, includeInstallations: true, into: &deltas) { _, v in "v:" + v }
        let cells = Set(deltas.keys.map { "\($0.metric)/\($0.cell)" })
        #expect(cells == ["/installations", "b/true", "n/reporting", "n/b:+5", "s/failed"])
        #expect(deltas.values.allSatisfy { $0.count == 1 })
    }
}

@Suite struct CatalogTests {
    @Test func theShippedCatalogLoadsWithTheDbEnabledRule() throws {
        let catalog = try MetricCatalog(json: Array(Self.shipped.utf8))
        let db = try #require(catalog.metric("container_registry_server.db_enabled"))
        #expect(db.valueType == .boolean)
        #expect(db.when == [MetricCondition(keyPath: "container_registry_enabled", equals: .bool(true))])
        #expect(db.whenTrue == nil && db.whenFalse == [MetricCondition(keyPath: "container_registry_server.vendor", equals: .string("gitlab"))])
        for required in ["container_registry_enabled", "container_registry_server.vendor", "container_registry_server.version",
                         "active_user_count", "database.version", "gitaly.servers"] {
            #expect(catalog.metric(required) != nil, "\(required)")
        }
        #expect(catalog.metrics.contains { $0.keyPath.hasPrefix("counts.") })
        #expect(catalog.metrics.contains { $0.keyPath.hasPrefix("usage_activity_by_stage_monthly.package.") })
    }

    @Test func dbEnabledTrueCountsWithoutTheOptionalVendorAndFalseOnlyFromGitLabsRegistry() throws {
        let extractor = PayloadExtractor(catalog: try MetricCatalog(json: Array(Self.shipped.utf8)))
        func observed(_ registry: String) throws -> MetricObservation? {
            let ping = #"{"uuid":"u","recorded_at":"2024-01-15T10:00:00Z","container_registry_enabled":true,"container_registry_server":"#
                + registry + "}"
            return try extractor.extract(Array(ping.utf8), receivedAt: .now()).observations["container_registry_server.db_enabled"]
        }
        // EE with optional metrics off: no vendor, no version, db_enabled true.
        #expect(try observed(#"{"db_enabled":true}"#) == .bool(true))
        #expect(try observed(#"{"vendor":"gitlab","db_enabled":true}"#) == .bool(true))
        #expect(try observed(#"{"vendor":"gitlab","db_enabled":false}"#) == .bool(false))
        // GitLab's default when it could not ask the registry, or a third-party registry.
        #expect(try observed(#"{"db_enabled":false}"#) == nil)
        #expect(try observed(#"{"vendor":"other","db_enabled":false}"#) == nil)
        #expect(try observed(#"{"vendor":"gitlab"}"#) == nil)
    }

    @Test func valueConditionsAreOnlyForBooleansAndChangeTheDefinition() throws {
        #expect(throws: CatalogError.self) {
            try MetricCatalog(metrics: [MetricDefinition(keyPath: "n", valueType: .number, whenTrue: [MetricCondition(keyPath: "a", equals: .bool(true))])])
        }
        let plain = MetricDefinition(keyPath: "b", valueType: .boolean, when: [MetricCondition(keyPath: "a", equals: .bool(true))])
        var valued = plain
        valued.whenFalse = [MetricCondition(keyPath: "v", equals: .string("gitlab"))]
        #expect(plain.definitionText == "boolean|day,week,month|a=b:true|0", "definitions without value conditions are as before")
        #expect(valued.definitionText != plain.definitionText, "so a database built with the old rule sees the metric as stale")
    }

    static var shipped: String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas/metrics.catalog.json")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    @Test(arguments: [
        #"{"metrics":[{"key_path":"a","value_type":"boolean"},{"key_path":"a","value_type":"number"}]}"#,
        #"{"metrics":[{"key_path":"a..b","value_type":"boolean"}]}"#,
        #"{"metrics":[{"key_path":"a","value_type":"float"}]}"#,
        #"{"metrics":[{"key_path":"a","value_type":"number","max_values":5}]}"#,
        #"{"metrics":[{"key_path":"a","value_type":"string","periods":[]}]}"#,
        #"{"metrics":[{"key_path":"a","value_type":"boolean","when":[{"key_path":"","equals":true}]}]}"#,
        #"{"metric":[]}"#,
        "not json",
    ])
    func invalidCatalogsAreRefusedWithAReason(json: String) {
        #expect(throws: CatalogError.self) { try MetricCatalog(json: Array(json.utf8)) }
    }

    @Test func theDbEnabledRuleMakesFalseUnknownUnlessTheRegistryIsGitLabs() throws {
        let catalog = try MetricCatalog(json: Array(Self.shipped.utf8))
        let extractor = PayloadExtractor(catalog: catalog)
        func dbEnabled(_ registry: String) throws -> MetricObservation? {
            let json = #"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z",\#(registry)}"#
            return try extractor.extract(Array(json.utf8), receivedAt: .now()).observations["container_registry_server.db_enabled"]
        }
        let server = { (vendor: String, db: String) in #""container_registry_server":{"vendor":"\#(vendor)","db_enabled":\#(db)}"# }
        #expect(try dbEnabled(#""container_registry_enabled":true,"# + server("gitlab", "false")) == .bool(false))
        #expect(try dbEnabled(#""container_registry_enabled":true,"# + server("gitlab", "true")) == .bool(true))
        #expect(try dbEnabled(#""container_registry_enabled":false,"# + server("gitlab", "false")) == nil)
        #expect(try dbEnabled(#""container_registry_enabled":true,"# + server("other", "false")) == nil)
        #expect(try dbEnabled(#""container_registry_enabled":true,"# + server("", "false")) == nil)
        #expect(try dbEnabled(#""container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab"}"#) == nil)
    }

    @Test func definitionTextIgnoresTheDescription() {
        var a = MetricDefinition(keyPath: "x", valueType: .string, description: "one")
        let before = a.definitionText
        a.description = "two"
        #expect(a.definitionText == before)
        a.maxValues = 5
        #expect(a.definitionText != before)
    }
}

@Suite struct DashboardDefinitionTests {
    static func repositoryFile(_ path: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(path)
    }

    @Test func theShippedDashboardsAreValidAgainstTheShippedCatalog() throws {
        let catalog = try MetricCatalog(json: Array(CatalogTests.shipped.utf8))
        let dir = Self.repositoryFile("dashboards")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == ["beta-migrations.json", "instrumentation-health.json", "registry-metadata-db.json", "service-ping-overview.json"])
        for file in files {
            let d = try Dashboard(json: Array(try Data(contentsOf: dir.appendingPathComponent(file))), catalog: catalog)
            #expect(!d.panels.isEmpty)
        }
    }

    /// Each refusal names what is wrong and where, in words (never Foundation's DecodingError dump).
    @Test(arguments: [
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"pie","query":{"metric":"m","value":"ratio"}}]}"#, "`panels[0].chart`"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"nope","value":"ratio"}}]}"#, "`nope` is not in the catalog"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"m","group_by":"color","value":"ratio"}}]}"#, "`panels[0].query.group_by`"),
        (#"{"slug":"x y","title":"t","panels":[]}"#, "letters, digits and dashes"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"m","value":"ratio"}},{"id":"p","title":"t","chart":"line","query":{"metric":"m","value":"ratio"}}]}"#, "used twice"),
        // A typo in the plotted member drew an empty chart before it was checked.
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"m","value":"ratoi"}}]}"#, "`ratoi` is not a member of a boolean point"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"m","value":"sum"}}]}"#, "`sum` is not a member"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"m","value":"ratio","filters":["edtion:ee"]}}]}"#, "edtion"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"source":"ingest","value":"ratio"}}]}"#, "accepted or duplicates or rejected"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"source":"beta","value":"status"}}]}"#, "needs a program"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"metric":"m"}}]}"#, "`value` is required"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"source":"graphite","value":"x"}}]}"#, "`panels[0].query.source`"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"source":"pulls","value":"status"}}]}"#, "panel is a table"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"line","query":{"source":"instrumentation_metrics","value":"slowest"}}]}"#, "panel is a table"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"table","query":{"source":"instrumentation_errors","value":"per_day"}}]}"#, "panel is a chart"),
        (#"{"slug":"x","title":"t","panels":[{"id":"p","title":"t","chart":"table","query":{"source":"instrumentation_metrics","value":"fastest"}}]}"#, "slowest or failing"),
    ])
    func invalidDashboardsAreRefusedWithAReason(json: String, reason: String) {
        let catalog = try! MetricCatalog(metrics: [MetricDefinition(keyPath: "m", valueType: .boolean)])
        #expect {
            try Dashboard(json: Array(json.utf8), catalog: catalog)
        } throws: { error in
            let text = "\(error)"
            return text.contains(reason) && !text.contains("DecodingError") && !text.contains("CodingKeys")
        }
    }
}
