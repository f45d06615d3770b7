import Testing
@testable import PingRollCore

/// The Wilson score interval against published values (Newcombe 1998, Table I; and the
/// textbook n = 10 cases), and the low-count threshold exactly.
@Suite struct WilsonTests {
    @Test(arguments: [
        (81, 263, 0.2553, 0.3662),   // Newcombe 1998, method 3
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (0, 10, 0.0000, 0.2775),
        (10, 10, 0.7225, 1.0000),
        (5, 10, 0.2366, 0.7634),
    ] as [(Int64, Int64, Double, Double)])
    func theIntervalMatchesPublishedValues(successes: Int64, trials: Int64, low: Double, high: Double) throws {
        let interval = try #require(Wilson.interval(successes: successes, trials: trials))
        #expect(abs(interval.low - low) < 0.00006 && abs(interval.high - high) < 0.00006, "\(interval)")
    }

    @Test func noTrialsOrImpossibleCountsHaveNoInterval() {
        #expect(Wilson.interval(successes: 0, trials: 0) == nil)
        #expect(Wilson.interval(successes: 3, trials: 2) == nil)
        #expect(Wilson.interval(successes: -1, trials: 2) == nil)
        let big = Wilson.interval(successes: Int64.max / 2, trials: Int64.max)
        #expect(big.map { $0.low > 0.49 && $0.high < 0.51 } == true)
    }

    @Test func aPointIsLowCountBelowTheThresholdAndNotAtIt() {
        let presentation = SeriesPresentation(minReliableCount: 30)
        var point = SeriesPoint(period: 0)
        point.cells = [Cell.true.rawValue: CellValue(count: 20), Cell.false.rawValue: CellValue(count: 9), Cell.unknown.rawValue: CellValue(count: 50)]
        #expect(point.isLowCount(presentation), "29 reports")
        point.cells[Cell.false.rawValue] = CellValue(count: 10)
        #expect(!point.isLowCount(presentation), "30 reports: exactly the threshold is enough")
        #expect(SeriesPresentation(suppressBelow: 5).suppresses(4) && !SeriesPresentation(suppressBelow: 5).suppresses(5)
                && !SeriesPresentation(suppressBelow: 5).suppresses(0))
    }
}
