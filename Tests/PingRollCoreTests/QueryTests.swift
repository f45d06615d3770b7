import Testing
@testable import PingRollCore

@Suite struct QueryTests {
    let catalog = try! MetricCatalog(metrics: [MetricDefinition(keyPath: "m", valueType: .number)])

    @Test func periodsOverlappingTheRangeAreReportedWhole() throws {
        let q = try SeriesQuery.parse([("metric", "m"), ("interval", "week"), ("from", "2024-12-31"), ("to", "2025-01-13")], catalog: catalog)
        #expect(q.periodStarts.map { isoDate(days: $0) } == ["2024-12-30", "2025-01-06", "2025-01-13"])
        let m = try SeriesQuery.parse([("metric", "m"), ("interval", "month"), ("from", "2024-01-31"), ("to", "2024-03-01")], catalog: catalog)
        #expect(m.periodStarts.map { isoDate(days: $0) } == ["2024-01-01", "2024-02-01", "2024-03-01"])
    }

    @Test func filtersAreOrWithinADimensionAndAndAcross() throws {
        let q = try SeriesQuery.parse([("metric", "m"), ("interval", "day"), ("from", "2024-01-01"), ("to", "2024-01-01"),
                                       ("filter", "tier:premium,tier:ultimate,installation_type:omnibus-gitlab")], catalog: catalog)
        #expect(q.filters == [.tier: ["premium", "ultimate"], .installationType: ["omnibus-gitlab"]])
        func tuple(_ tier: String, _ type: String) -> RollupTuple { RollupTuple(fields: ["EEP", tier, type, "16.5", "gitlab", "false", "unknown"]) }
        #expect(q.accepts(tuple("premium", "omnibus-gitlab")) && q.accepts(tuple("ultimate", "omnibus-gitlab")))
        #expect(!q.accepts(tuple("free", "omnibus-gitlab")) && !q.accepts(tuple("premium", "source")))
    }

    /// Found by schemathesis: `optional_metrics:🏻…` was "not DIMENSION:VALUE" because the colon
    /// and the emoji modifier after it form one Character. Lists and key:value split on bytes.
    @Test(arguments: ["optional_metrics:\u{1F3FB}x", "tier:\u{301}free", "tier:a\u{301},edition:\u{301}b"])
    func filtersSplitOnTheSeparatorEvenBeforeACombiningMark(text: String) throws {
        let filters = try SeriesQuery.filterArguments([text])
        #expect(!filters.isEmpty, "\(filters)")
    }

    @Test func anEmptyFilterIsAnError() {
        #expect(throws: QueryError.self) { try SeriesQuery.filterArguments([""]) }
        #expect(throws: QueryError.self) { try SeriesQuery.filterArguments(["tier"]) }
    }

    @Test func categoryNamesThatCouldSplitDifferentlyWhenReadBackAreDropped() {
        #expect(PingFacts.normalizedCategories(["Optional", "x,optional", "optional\u{0}", "Standard", " operational "]) == ["operational", "optional", "standard"])
        let stored = PingFacts.normalizedCategories(["standard", "a,optional"]).joined(separator: ",")
        #expect(stored.splitting(atASCII: UInt8(ascii: ",")) == ["standard"])
    }

    @Test func quantilesComeFromTheBuckets() {
        var p = SeriesPoint(period: 0)
        for v in [1.0, 2, 3, 4, 100] { p.cells[LogBuckets.cell(for: v), default: .zero] = p.cells[LogBuckets.cell(for: v), default: .zero] + CellValue(count: 1) }
        #expect(abs(p.quantile(0.5)! - 3) < 0.4)
        #expect(abs(p.quantile(1)! - 100) < 10)
        #expect(SeriesPoint(period: 0).quantile(0.5) == nil)
    }

    @Test func csvFieldsAreQuotedAndDefused() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("=1+1") == "'=1+1")
        #expect(CSV.field("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSV.field("-12.5") == "-12.5")
        #expect(CSV.field("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0")
    }

    @Test func bearerTokensRoundTripAndRejectLookalikes() {
        let t = BearerToken.generate()
        #expect(BearerToken(t.text) == t)
        #expect(BearerToken("prt_short_secret") == nil)
        #expect(BearerToken(t.text + "x") == nil)
        #expect(BearerToken.generate() != t)
    }
}
