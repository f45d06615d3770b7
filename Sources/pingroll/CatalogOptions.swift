import ArgumentParser
import Foundation
import PingRollCore
import PingRollHTTP

/// `--catalog`, shared by every subcommand that rolls up.
struct CatalogOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Metric catalog (JSON). Default: PINGROLL_CATALOG, else schemas/metrics.catalog.json in the working directory or above the binary, else the catalog built into the binary.",
        valueName: "path"))
    var catalog: String?

    static let shippedRelativePath = "schemas/metrics.catalog.json"

    /// What the built-in catalog is called where a path would be shown.
    static let builtIn = "(built-in catalog)"

    /// The catalog file to use: the option, the environment, or the shipped file; nil for the
    /// catalog built into the binary.
    func resolvedPath() -> String? {
        if let catalog { return catalog }
        if let env = ProcessInfo.processInfo.environment["PINGROLL_CATALOG"], !env.isEmpty { return env }
        return shippedPath(Self.shippedRelativePath)
    }

    /// The catalog and where it came from (a path, or `builtIn`).
    func load() throws -> (MetricCatalog, String) { try Self.load(path: resolvedPath()) }

    /// The catalog at `path` (nil: the built-in one) and where it came from.
    static func load(path: String?) throws -> (MetricCatalog, String) {
        guard let path else {
            do {
                return (try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8)), builtIn)
            } catch {
                throw CommandFailure("the built-in catalog does not load: \(error)")
            }
        }
        let data = try InputFile.read(path, what: "the metric catalog")
        do {
            return (try MetricCatalog(json: data), path)
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
    @Option(name: .long, help: ArgumentHelp("Directory of dashboard definitions (*.json). Default: dashboards/ in the working directory or above the binary, else the dashboards built into the binary.", valueName: "dir"))
    var dashboards: String?

    @Option(name: .long, help: ArgumentHelp("Chart.js file the UI loads (Debian's libjs-chart.js).", valueName: "path"))
    var chartjs: String = UIConfiguration.debianChartJS

    /// The dashboards alone (from `--dashboards`, a shipped directory, or the built-in ones),
    /// without the pages' Chart.js: what the digest reads.
    func dashboardStore(catalog: MetricCatalog) -> DashboardStore {
        DashboardStore(directory: dashboards ?? shippedPath("dashboards"), catalog: catalog)
    }

    /// The dashboards (from `--dashboards`, a shipped directory, or the built-in ones) and
    /// Chart.js, which must exist: without it every page would fail in the browser.
    func load(catalog: MetricCatalog) throws -> UIConfiguration {
        if let dashboards {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dashboards))?.filter { $0.hasSuffix(".json") } ?? []
            if files.isEmpty { throw CommandFailure("no dashboard definitions (*.json) in \(dashboards)") }
        }
        let store = dashboardStore(catalog: catalog)
        if let problem = InputFile.problem(chartjs) {
            throw CommandFailure("Chart.js is not readable at \(chartjs) (\(problem)): the dashboards cannot draw without it. Install Debian's libjs-chart.js (apt-get install libjs-chart.js) or pass --chartjs PATH")
        }
        let chart = try InputFile.read(chartjs, what: "Chart.js")
        return UIConfiguration(dashboards: store, chartJSPath: chartjs, chartJS: chart)
    }
}
