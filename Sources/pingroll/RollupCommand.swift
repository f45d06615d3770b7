import ArgumentParser
import Foundation
import PingRollCore
import PingRollStore

struct RollupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollup",
        abstract: "Rebuilds or verifies the rollups from the stored raw pings.",
        subcommands: [RebuildCommand.self, VerifyCommand.self]
    )

    struct RebuildCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rebuild",
            abstract: "Recomputes rollups from the stored raw payloads with the current catalog.",
            discussion: """
                Without --metric everything is recomputed (installation counts, every metric, the \
                latest-ping bookkeeping). With --metric only those metrics: use it after adding a \
                metric to the catalog to compute its whole history. Runs in one transaction; a \
                serving pingroll on the same SQLite file waits for it (up to its busy timeout, then \
                answers 503 and GitLab retries).
                """
        )

        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions

        @Option(name: .long, help: ArgumentHelp("A catalog metric to rebuild (repeatable).", valueName: "key_path"))
        var metric: [String] = []

        func run() throws {
            let (catalog, _) = try catalogOptions.load()
            for key in metric where catalog.metric(key) == nil {
                throw ValidationError("`\(key)` is not in the catalog; `pingroll catalog` lists the metrics")
            }
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            do {
                try store.migrate()
                let started = Date()
                let report = try store.rebuildRollups(metrics: metric.isEmpty ? nil : metric) { done in
                    FileHandle.standardError.write(Data("\rrebuilding: \(done) pings read".utf8))
                }
                FileHandle.standardError.write(Data("\n".utf8))
                let seconds = Date().timeIntervalSince(started)
                print("rebuilt \(report.metrics.count) metrics\(metric.isEmpty ? " and installation counts" : "") from \(report.pings) pings: \(report.cells) cells in \(String(format: "%.1f", seconds)) s")
                if report.unreadablePayloads > 0 {
                    print("warning: \(report.unreadablePayloads) stored payloads could not be read; their metrics count as unknown")
                }
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct VerifyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Recomputes the rollups from the raw pings in a scratch area and prints every difference from the live ones.",
            discussion: "Exits 0 when the live rollups equal the recomputation, 1 when any cell differs or a metric is stale."
        )

        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            let (catalog, _) = try catalogOptions.load()
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            let result: RollupVerification
            do {
                try store.migrate()
                result = try store.verifyRollups(progress: nil)
            } catch {
                throw CommandFailure("\(error)")
            }
            for difference in result.differences { print("differs: \(difference)") }
            for metric in result.stale { print("stale: \(metric) (run `pingroll rollup rebuild\(metric.hasPrefix("(") ? "" : " --metric \(metric)")`)") }
            print("checked \(result.cellsChecked) cells over \(result.pings) pings: \(result.differences.count) differences, \(result.stale.count) stale metrics")
            if !result.isClean { throw ExitCode(1) }
        }
    }
}
