import ArgumentParser
import Foundation
import PingRollCore
import PingRollHTTP

/// `--catalog`, shared by every subcommand that rolls up.
struct CatalogOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Metric catalog (JSON). Default: PINGROLL_CATALOG, else schemas/metrics.catalog.json in the working directory or above the binary.",
        valueName: "path"))
    var catalog: String?

    static let shippedRelativePath = "schemas/metrics.catalog.json"

    /// The catalog file to use: the option, the environment, or the shipped file.
    func resolvedPath() throws -> String {
        if let catalog { return catalog }
        if let env = ProcessInfo.processInfo.environment["PINGROLL_CATALOG"], !env.isEmpty { return env }
        if let path = shippedPath(Self.shippedRelativePath) { return path }
        throw CommandFailure("no metric catalog found (looked for \(Self.shippedRelativePath) in the working directory and above the binary); pass --catalog PATH")
    }

    func load() throws -> (MetricCatalog, String) {
        let path = try resolvedPath()
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure(CatalogError.unreadable(path: path).description)
        }
        do {
            return (try MetricCatalog(json: Array(data)), path)
        } catch {
            throw CommandFailure("\(path): \(error)")
        }
    }
}

/// A file shipped in the repository (`schemas/...`, `dashboards`): found in the working directory
/// or in a directory above the binary (which covers `.build/<triple>/<config>/pingroll`).
func shippedPath(_ relative: String) -> String? {
    var candidates = [FileManager.default.currentDirectoryPath]
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<6 {
        candidates.append(dir.path)
        dir = dir.deletingLastPathComponent()
    }
    for base in candidates {
        let path = URL(fileURLWithPath: base).appendingPathComponent(relative).path
        if FileManager.default.fileExists(atPath: path) { return path }
    }
    return nil
}

/// `--dashboards` and `--chartjs`, for the built-in dashboard UI.
struct UIOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Directory of dashboard definitions (*.json). Default: dashboards/ in the working directory or above the binary.", valueName: "dir"))
    var dashboards: String?

    @Option(name: .long, help: ArgumentHelp("Chart.js file the UI loads (Debian's libjs-chart.js).", valueName: "path"))
    var chartjs: String = UIConfiguration.debianChartJS

    func load(catalog: MetricCatalog) throws -> UIConfiguration {
        var definitions: [(Dashboard, String)] = []
        if let dir = dashboards ?? shippedPath("dashboards") {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
            if dashboards != nil && files.isEmpty { throw CommandFailure("no dashboard definitions (*.json) in \(dir)") }
            for file in files {
                let path = URL(fileURLWithPath: dir).appendingPathComponent(file).path
                guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read \(path)") }
                do {
                    definitions.append((try Dashboard(json: Array(data), catalog: catalog), String(decoding: data, as: UTF8.self)))
                } catch {
                    throw CommandFailure("\(path): \(error)")
                }
            }
        }
        let chart = FileManager.default.contents(atPath: chartjs).map { Array($0) }
        return UIConfiguration(dashboards: definitions, chartJSPath: chartjs, chartJS: chart)
    }
}
