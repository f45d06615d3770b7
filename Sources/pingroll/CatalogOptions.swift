import ArgumentParser
import Foundation
import PingRollCore

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
        var candidates = [FileManager.default.currentDirectoryPath]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.path)
            dir = dir.deletingLastPathComponent()
        }
        for base in candidates {
            let path = URL(fileURLWithPath: base).appendingPathComponent(Self.shippedRelativePath).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
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
