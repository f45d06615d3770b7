import ArgumentParser
import Dispatch
import Foundation
import PingRollCore
import Glibc
import PingRollHTTP
import PingRollService
import PingRollStore
import Synchronization

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Imports historical pings from NDJSON files (one ping per line; plain or .gz; - for stdin).",
        discussion: """
            Same validation, dedupe and rollups as HTTP ingest, in large transactions. Rejected lines \
            go to the quarantine with their file and line number. Re-running an import changes \
            nothing; Ctrl-C stops after the current batch, and running the same command again resumes.
            """
    )

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var catalogOptions: CatalogOptions

    @Argument(help: "NDJSON files (.gz is decompressed); - reads standard input.")
    var files: [String]

    @Option(help: "Lines per transaction.") var batch: Int = 256

    func run() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        for file in files where file != "-" {
            if let problem = InputFile.problem(file) { throw CommandFailure("cannot read \(file): \(problem)") }
        }
        let (catalog, _) = try catalogOptions.load()
        let store = try db.openStore(catalog: catalog, mode: .existing)
        defer { store.close() }
        do {
            try store.migrate()
            _ = try store.prepareRollups()
        } catch {
            throw CommandFailure("\(error)")
        }
        let stop = StopFlag.shared
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { stop.flag.store(true, ordering: .relaxed) }
        source.resume()

        let importer = BulkImporter(store: store, batchSize: batch)
        let terminal = isatty(2) == 1
        var totals = BulkImporter.Progress()
        var allRejected: [String] = []
        let started = Date()
        for file in files {
            let fileStarted = Date()
            var lastLog = Date()
            let result: BulkImporter.Progress
            do {
                result = try importer.run(path: file, stop: stop.flag) { p in
                    let seconds = max(Date().timeIntervalSince(fileStarted), 0.001)
                    let rate = Double(p.lines) / seconds
                    var eta = ""
                    if let total = p.totalBytes, p.bytesRead > 0, total > p.bytesRead {
                        eta = String(format: ", ETA %.0f s", Double(total - p.bytesRead) / (Double(p.bytesRead) / seconds))
                    }
                    let line = String(format: "%@: %d pings (%d new, %d duplicates, %d rejected), %.0f pings/s, %.1f MB%@",
                                      file, p.lines, p.stored, p.duplicates, p.rejected, rate, Double(p.payloadBytes) / 1e6, eta)
                    if terminal {
                        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
                    } else if Date().timeIntervalSince(lastLog) >= 5 {
                        FileHandle.standardError.write(Data((line + "\n").utf8))
                        lastLog = Date()
                    }
                }
            } catch {
                throw CommandFailure("\(file): \(error)")
            }
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            totals.lines += result.lines
            totals.stored += result.stored
            totals.duplicates += result.duplicates
            totals.rejected += result.rejected
            totals.payloadBytes += result.payloadBytes
            if let first = result.firstRecorded { totals.firstRecorded = min(totals.firstRecorded ?? first, first) }
            if let last = result.lastRecorded { totals.lastRecorded = max(totals.lastRecorded ?? last, last) }
            if result.lines > 0 && result.rejected == result.lines { allRejected.append(file) }
            if stop.flag.load(ordering: .relaxed) { break }
        }
        if totals.stored > 0, let first = totals.firstRecorded, let last = totals.lastRecorded {
            // On the time axis: a history import explains a jump in the charts it covers.
            let text = "history import: \(totals.stored) pings recorded \(isoDate(days: first.milliseconds / 86_400_000)) to \(isoDate(days: last.milliseconds / 86_400_000))"
            try? store.recordAnnotation(Annotation(at: first, kind: .import, text: text, metric: nil), key: "import:\(UUID().uuidString)")
        }
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        print(String(format: "imported %d lines in %.1f s (%.0f pings/s, %.1f MB/s): %d new, %d duplicates, %d rejected (in the quarantine)",
                     totals.lines, seconds, Double(totals.lines) / seconds, Double(totals.payloadBytes) / 1e6 / seconds,
                     totals.stored, totals.duplicates, totals.rejected))
        if stop.flag.load(ordering: .relaxed) {
            print("interrupted: everything up to the last batch is stored; run the same command again to resume")
            throw ExitCode(130)
        }
        if let file = allRejected.first {
            throw CommandFailure("every line of \(file) was rejected (they are in the quarantine): is it NDJSON, one JSON ping per line? "
                                 + "A pretty-printed JSON document or a JSON array is not; `jq -c` turns either into NDJSON")
        }
    }
}

/// Set by SIGINT; read by the import loop.
final class StopFlag: Sendable {
    static let shared = StopFlag()
    let flag = Atomic<Bool>(false)
}
