import ArgumentParser
import Foundation
import PingRollCore
import PingRollService
import PingRollStore
import Synchronization

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
                metric to the catalog to compute its whole history.

                The rebuild runs online: it reads the pings installation by installation in short \
                write transactions, each sized to hold the writer for about 100 ms (at most --chunk \
                pings), at a lower CPU priority than a serving pingroll, which keeps storing pings \
                between them. A ping that arrives meanwhile is counted exactly once: by the server \
                when the rebuild has passed its installation, by the rebuild otherwise. While it \
                runs, series of the metrics being rebuilt fill in as it goes. Every serving \
                pingroll must use the same catalog; if one defines a rebuilt metric differently, \
                the rebuild fails at the end rather than leave wrong counts.

                Ctrl-C (or SIGTERM) stops it after the current transaction; running the same \
                command again continues where it stopped. A different rebuild replaces an \
                unfinished one, whose metrics then stay stale until rebuilt.
                """
        )

        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions

        @Option(name: .long, help: ArgumentHelp("A catalog metric to rebuild (repeatable).", valueName: "key_path"))
        var metric: [String] = []

        @Option(name: .long, help: ArgumentHelp("At most this many pings per write transaction (1–1000000); each is sized to hold the writer for about 100 ms, and a write batch of the server waits for at most one.", valueName: "pings"))
        var chunk: Int = SQLiteStore.defaultRebuildChunkPings

        func validate() throws {
            guard (1...1_000_000).contains(chunk) else { throw ValidationError("--chunk must be between 1 and 1000000 pings") }
        }

        /// Set by SIGINT or SIGTERM: stop after the current transaction.
        static let stopRequested = Atomic<Bool>(false)

        func run() throws {
            // Long work yields the CPU to a serving pingroll's ingest.
            LanePriority.lowerCurrentThread(to: LanePriority.longWork)
            let (catalog, _) = try catalogOptions.load()
            for key in metric where catalog.metric(key) == nil {
                throw ValidationError("`\(key)` is not in the catalog; `pingroll catalog` lists the metrics")
            }
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            // A parent may have started this process with the signals blocked (a test runner
            // does): unblock the two it stops on.
            var stopSignals = sigset_t()
            sigemptyset(&stopSignals)
            for sig in [SIGINT, SIGTERM] {
                signal(sig) { _ in RebuildCommand.stopRequested.store(true, ordering: .relaxed) }
                sigaddset(&stopSignals, sig)
            }
            pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
            let started = Date()
            let report: RollupRebuildReport
            do {
                try store.migrate()
                report = try store.rebuildRollups(metrics: metric.isEmpty ? nil : metric, chunkPings: chunk, progress: { done in
                    FileHandle.standardError.write(Data("\rrebuilding: \(done) pings read".utf8))
                }, stop: { RebuildCommand.stopRequested.load(ordering: .relaxed) })
            } catch {
                FileHandle.standardError.write(Data("\n".utf8))
                throw CommandFailure("\(error)")
            }
            FileHandle.standardError.write(Data("\n".utf8))
            let seconds = Date().timeIntervalSince(started)
            if report.resumed { print("continued an unfinished rebuild of the same metrics") }
            if report.stopped {
                print("stopped after \(report.pings) pings in \(report.transactions) transactions; run the same command to continue")
                throw ExitCode(130)
            }
            print("rebuilt \(report.metrics.count) metrics\(metric.isEmpty ? " and installation counts" : "") from \(report.pings) pings: \(report.cells) cells in \(String(format: "%.1f", seconds)) s (\(report.transactions) transactions)")
            if report.droppedPayloads > 0 {
                print("note: \(report.droppedPayloads) pings had their raw payloads dropped by retention; they count with the observations stored when they arrived, so a metric new to the catalog is unknown in them")
                for kind in PeriodKind.allCases {
                    guard let starts = report.storedOnlyPeriods[kind], let first = starts.min(), let last = starts.max() else { continue }
                    print("  not backfilled from raw payloads: \(starts.count) \(kind.rawValue)s from \(isoDate(days: first)) to \(isoDate(days: last))")
                }
            }
            if report.unreadablePayloads > 0 {
                print("warning: \(report.unreadablePayloads) stored payloads could not be read; their metrics count as unknown")
            }
        }
    }

    struct VerifyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Recomputes the rollups from the raw pings in a scratch area and prints every difference from the live ones.",
            discussion: """
                Reads every stored ping in one read snapshot, a page at a time (memory holds a page \
                and the cells, whatever the history), while a serving pingroll goes on storing \
                pings. Exits 0 when the live rollups equal the recomputation, 1 when any cell \
                differs, a metric is stale or a rebuild is unfinished.
                """
        )

        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            LanePriority.lowerCurrentThread(to: LanePriority.longWork)
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
            if !result.rebuilding.isEmpty {
                print("rebuilding: \(result.rebuilding.joined(separator: ", ")) (an unfinished `pingroll rollup rebuild`; not checked until it ends)")
            }
            print("checked \(result.cellsChecked) cells over \(result.pings) pings: \(result.differences.count) differences, \(result.stale.count) stale metrics")
            if !result.isClean { throw ExitCode(1) }
        }
    }
}
