import ArgumentParser
import Foundation
import PingRollService
import PingRollStore

struct StorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Maintains how raw pings are stored.",
        subcommands: [RecompressCommand.self]
    )

    struct RecompressCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recompress",
            abstract: "Rewrites pings stored whole into the skeleton-and-values form new pings are stored in.",
            discussion: """
                pingroll stores each ping's skeleton (keys and structure) once per distinct \
                skeleton and only its values per ping. Pings stored by an earlier pingroll keep \
                their whole-payload form and read as they are; this command rewrites them, a few \
                hundred per short transaction, so it can run while `pingroll serve` is accepting \
                pings. It can be stopped and run again at any time.
                """
        )

        @OptionGroup var db: DatabaseOptions

        @Option(name: .long, help: ArgumentHelp("At most this many pings rewritten per transaction (each is sized to about 100 ms of the writer).", valueName: "n"))
        var batch: Int = 200

        func validate() throws {
            guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1 to 10000 (got \(batch))") }
        }

        func run() throws {
            // Long work yields the CPU to a serving pingroll's ingest.
            LanePriority.lowerCurrentThread(to: LanePriority.longWork)
            let store = try db.openStore(catalog: nil, mode: .existing)
            defer { store.close() }
            let started = Date()
            let report: PayloadRecompression
            do {
                try store.migrate()
                report = try store.recompressPayloads(batch: batch) { so in
                    FileHandle.standardError.write(Data("\rrecompressing: \(so.rewritten) rewritten, \(so.kept) kept".utf8))
                }
                FileHandle.standardError.write(Data("\n".utf8))
            } catch {
                throw CommandFailure("\(error)")
            }
            let ratio = report.bytesAfter > 0 ? String(format: " (%.1f× smaller)", Double(report.bytesBefore) / Double(report.bytesAfter)) : ""
            print("rewrote \(report.rewritten) pings from \(report.bytesBefore) to \(report.bytesAfter) payload bytes\(ratio), skeletons stored once apart; kept \(report.kept) whole, in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
    }
}
