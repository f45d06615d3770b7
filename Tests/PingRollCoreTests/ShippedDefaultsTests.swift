import Foundation
import Testing
import PingRollCore

@Suite struct ShippedDefaultsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func file(_ relative: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(relative), encoding: .utf8)
    }

    @Test func theBuiltInCatalogIsTheShippedFile() throws {
        #expect(ShippedDefaults.catalogJSON.trimmingCharacters(in: .newlines) == (try file("schemas/metrics.catalog.json")).trimmingCharacters(in: .newlines),
                "run scripts/embed-defaults.py")
        #expect(try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8)).metrics.count > 0)
    }

    @Test func theBuiltInDashboardsAreTheShippedFiles() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("dashboards").path)
            .filter { $0.hasSuffix(".json") }.sorted()
        #expect(ShippedDefaults.dashboards.map(\.name) == names, "run scripts/embed-defaults.py")
        for (name, json) in ShippedDefaults.dashboards {
            #expect(json.trimmingCharacters(in: .newlines) == (try file("dashboards/\(name)")).trimmingCharacters(in: .newlines), "\(name)")
        }
    }
}
