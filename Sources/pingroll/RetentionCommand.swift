import ArgumentParser
import Foundation
import PingRollConfig
import PingRollCore
import PingRollService
import PingRollStore

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Drops old raw payloads (the rollups stay exactly as they are) and prunes old quarantine entries and client reports.",
        subcommands: [ApplyCommand.self, RunsCommand.self]
    )

    struct ApplyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Applies a retention policy now.",
            discussion: """
                --payload-days N: pings recorded (by their recorded_at) more than N days ago lose \
                their raw payload. The ping stays — its facts and the observations its rollup \
                contributions were made from — so every rollup keeps exactly its value and \
                `rollup verify` still passes for the metrics built before. What is lost is the \
                raw JSON: the raw-ping route answers 410 for such pings, and `rollup rebuild \
                --metric NEW` cannot compute a new metric for them (it says which periods). On \
                PostgreSQL a month that lies wholly before the cut-off goes by replacing its \
                partition (its disk space returns at once); the rest row by row. On SQLite the \
                freed pages are reused by new pings (the file does not shrink).

                --report-days M: quarantine entries, metadata reports (/usage_ping_metadata) and \
                error reports (/usage_ping_errors) received more than M days ago are deleted.

                Runs in short transactions (about 100 ms of the writer each, at most --batch rows) beside a serving pingroll, and can \
                be interrupted and run again. `serve` applies the same policy daily when given \
                --retention-payload-days/--retention-report-days or a config file's `retention` \
                section; --config reads that section here.
                """
        )

        @OptionGroup var db: DatabaseOptions

        @Option(name: .long, help: ArgumentHelp("Drop raw payloads of pings recorded more than N days ago (1–36500).", valueName: "n"))
        var payloadDays: Int?

        @Option(name: .long, help: ArgumentHelp("Delete quarantine entries and metadata/error reports received more than N days ago (1–36500).", valueName: "n"))
        var reportDays: Int?

        @Option(name: .long, help: ArgumentHelp("Take the policy a serve config file sets (its `retention` section) where no flag gives it.", valueName: "file"))
        var config: String?

        @Flag(name: .long, help: "Say what would go, change nothing.")
        var dryRun = false

        @Option(name: .long, help: ArgumentHelp("At most this many rows per write transaction (1–100000; each is sized to about 100 ms).", valueName: "rows"))
        var batch: Int = RetentionPolicy.defaultBatch

        func validate() throws {
            guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be 1 to 100000 rows") }
            for (flag, days) in [("--payload-days", payloadDays), ("--report-days", reportDays)] {
                if let days, !RetentionPolicy.dayRange.contains(days) { throw ValidationError("\(flag) must be 1 to 36500 days (got \(days))") }
            }
        }

        func policy() throws -> RetentionPolicy {
            var policy = RetentionPolicy(payloadDays: payloadDays, reportDays: reportDays)
            if let config {
                let file: ConfigFile
                do { file = try ConfigFile(path: config) } catch { throw CommandFailure("\(error)") }
                let fromFile = try file.retentionPolicy()
                policy.payloadDays = policy.payloadDays ?? fromFile.payloadDays
                policy.reportDays = policy.reportDays ?? fromFile.reportDays
            }
            guard !policy.isEmpty else {
                throw ValidationError("nothing to apply: give --payload-days, --report-days or a --config with a retention section")
            }
            return policy
        }

        func run() throws {
            // Long work yields the CPU to a serving pingroll's ingest.
            LanePriority.lowerCurrentThread(to: LanePriority.longWork)
            let policy = try policy()
            let store = try db.openStore(catalog: nil, mode: .existing)
            defer { store.close() }
            let started = Date()
            let report: RetentionReport
            do {
                try store.migrate()
                report = try store.applyRetention(policy, now: .now(), dryRun: dryRun, batch: batch, progress: { r in
                    FileHandle.standardError.write(Data("\rretention: \(r.payloads) payloads, \(r.quarantineEntries + r.metadataReports + r.errorReports) reports".utf8))
                })
            } catch {
                FileHandle.standardError.write(Data("\n".utf8))
                throw CommandFailure("cannot apply retention to \(db.displayLocation): \(error)")
            }
            FileHandle.standardError.write(Data("\n".utf8))
            print(RetentionSchedule.summary(report) + " in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
    }

    struct RunsCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "runs", abstract: "Lists the latest retention runs (dry runs are not recorded).")

        @OptionGroup var db: DatabaseOptions

        @Option(name: .long, help: "How many runs (1–1000).")
        var limit: Int = 20

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
        }

        func run() throws {
            let store = try db.openStore(catalog: nil, mode: .existing)
            defer { store.close() }
            let runs: [RetentionRun]
            do {
                try store.migrate()
                runs = try store.retentionRuns(limit: limit)
            } catch {
                throw CommandFailure("cannot read \(db.displayLocation): \(error)")
            }
            if runs.isEmpty { print("no retention run yet") }
            for run in runs {
                print("\(run.startedAt) (\(run.finishedAt.milliseconds - run.startedAt.milliseconds) ms): \(RetentionSchedule.summary(run.report))")
            }
        }
    }
}

extension ConfigFile {
    /// The policy of the file's `retention` section (or its `retention-*` settings).
    func retentionPolicy() throws -> RetentionPolicy {
        func days(_ name: String) throws -> Int? {
            guard let text = values.first(where: { $0.setting.name == name })?.texts.first else { return nil }
            guard let n = Int(text), RetentionPolicy.dayRange.contains(n) else {
                throw CommandFailure("\(path): `\(name)` must be 1 to 36500 days (got \(text))")
            }
            return n
        }
        return RetentionPolicy(payloadDays: try days("retention-payload-days"), reportDays: try days("retention-report-days"))
    }
}
