import ArgumentParser
import PingRollCore

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Shows the metric catalog: the tracked metrics, their types, periods and conditions."
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Flag(name: .long, help: "Print the catalog as JSON instead of a table.")
    var json = false

    func run() throws {
        let (catalog, path) = try catalogOptions.load()
        if json {
            print(catalog.jsonText())
            return
        }
        print("# \(path): \(catalog.metrics.count) metrics; dimensions: \(RollupTuple.dimensions.joined(separator: ", "))")
        let width = catalog.metrics.map(\.keyPath.count).max() ?? 10
        for m in catalog.metrics {
            let name = m.keyPath.padding(toLength: width, withPad: " ", startingAt: 0)
            let type = m.valueType.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
            var line = "\(name)  \(type)  \(m.periods.map(\.rawValue).joined(separator: ","))"
            func conditions(_ list: [MetricCondition]) -> String { list.map { "\($0.keyPath) = \($0.equals.display)" }.joined(separator: " and ") }
            if let when = m.when, !when.isEmpty { line += "  when " + conditions(when) }
            if let t = m.whenTrue, !t.isEmpty { line += "; true counts when " + conditions(t) }
            if let f = m.whenFalse, !f.isEmpty { line += "; false counts when " + conditions(f) }
            if m.valueType == .string { line += "  max \(m.effectiveMaxValues) values" }
            if let category = m.dataCategory { line += "  data category \(category.rawValue) (not_collected where not collected)" }
            print(line)
            if !m.description.isEmpty { print(String(repeating: " ", count: width + 2) + m.description) }
        }
    }
}

extension ConditionValue {
    var display: String {
        switch self {
        case .bool(let b): "\(b)"
        case .string(let s): "\"\(s)\""
        case .number(let n): "\(n)"
        }
    }
}
