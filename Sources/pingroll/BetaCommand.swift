import ArgumentParser
import Foundation
import PingRollCore
import PingRollService
import PingRollStore

struct BetaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beta",
        abstract: "Beta programs: list them, export a cohort, import enrollments from CSV.",
        subcommands: [Programs.self, Export.self, Import.self]
    )

    struct Programs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists beta programs: slug, name, phases.")
        @OptionGroup var db: DatabaseOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        struct Row: Encodable {
            var slug: String, name: String, description: String?, phases: [String], created_at: String
        }

        func run() throws {
            let store = try db.openMigratedStore()
            defer { store.close() }
            let programs: [BetaProgram]
            do { programs = try store.programs() } catch { throw CommandFailure("cannot list the beta programs: \(error.reason)") }
            if json {
                try Listing.json(programs.map { Row(slug: $0.slug, name: $0.name, description: $0.description, phases: $0.phases, created_at: $0.createdAt.description) })
            } else {
                Listing.table(["SLUG", "NAME", "PHASES"], programs.map { [$0.slug, $0.name, $0.phases.joined(separator: ",")] })
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exports a program's enrollments (a filter or a saved cohort) as CSV or JSON, streamed, no row cap.",
            discussion: "Filters combine with AND; comma-separated values with OR. CSV cells that a spreadsheet could run as a formula get a leading '."
        )
        @OptionGroup var db: DatabaseOptions
        @Option(help: "The program's slug.") var program: String
        @Option(help: "A saved cohort's name (instead of filters).") var cohort: String?
        @Option(help: "csv or json.") var format: String = "csv"
        @Option(help: "Write to this file instead of standard output.") var output: String?
        @Option(help: "Statuses, comma-separated.") var status: String?
        @Option(help: "Phases, comma-separated.") var phase: String?
        @Option(name: .customLong("installation-type"), help: "Installation types, comma-separated.") var installationType: String?
        @Option(name: .customLong("storage-driver"), help: "Storage drivers, comma-separated.") var storageDriver: String?
        @Option(name: .customLong("db-enabled"), help: "true, false, unknown (from the installation's latest ping).") var dbEnabled: String?
        @Option(name: .customLong("min-registry-bytes"), help: "e.g. 200GiB") var minRegistryBytes: String?
        @Option(name: .customLong("max-registry-bytes"), help: "e.g. 2TB") var maxRegistryBytes: String?
        @Option(name: .customLong("last-ping-within-days"), help: "Only installations that pinged this recently.") var lastPingWithinDays: Int?

        func run() throws {
            guard let kind = BetaOperations.Format(rawValue: format) else { throw ValidationError("--format must be csv or json") }
            let store = try db.openMigratedStore()
            defer { store.close() }
            var arguments: [(String, String)] = [("status", status), ("phase", phase), ("installation_type", installationType),
                                                 ("storage_driver", storageDriver), ("db_enabled", dbEnabled),
                                                 ("min_registry_bytes", minRegistryBytes), ("max_registry_bytes", maxRegistryBytes),
                                                 ("last_ping_within_days", lastPingWithinDays.map(String.init))].compactMap { k, v in v.map { (k, $0) } }
            do {
                guard try store.program(slug: program) != nil else { throw CommandFailure("there is no beta program \(program)") }
                if let cohort {
                    guard arguments.isEmpty else { throw ValidationError("give --cohort or filters, not both") }
                    guard let saved = try store.cohort(program: program, name: cohort) else { throw CommandFailure("there is no cohort \(cohort) in \(program)") }
                    arguments = saved
                }
                let filter = try CohortFilter.parse(arguments)
                let out: FileHandle
                if let output {
                    guard FileManager.default.createFile(atPath: output, contents: nil) , let h = FileHandle(forWritingAtPath: output) else {
                        throw CommandFailure("cannot write \(output)")
                    }
                    out = h
                } else {
                    out = FileHandle.standardOutput
                }
                let export = BetaOperations.CohortExport(store: store, program: program, filter: filter, format: kind)
                while let piece = export.next() { out.write(Data(piece)) }
                if let failure = export.failure { throw CommandFailure("the export stopped: \(failure)") }
                if output != nil {
                    try out.close()
                    FileHandle.standardError.write(Data("exported \(export.rows) enrollments to \(output!)\n".utf8))
                }
            } catch let error as QueryError {
                throw ValidationError(error.description)
            } catch let error as StorageError {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates (no id) or updates (id) enrollments from a CSV with the export's columns.",
            discussion: "Every row is checked first; with an invalid row nothing is applied unless --partial. Errors name the row and column."
        )
        @OptionGroup var db: DatabaseOptions
        @Option(help: "The program's slug.") var program: String
        @Argument(help: "The CSV file.") var file: String
        @Flag(help: "Apply the valid rows even when others are invalid.") var partial = false

        func run() throws {
            let data = try InputFile.read(file, what: "the CSV file")
            let store = try db.openStore(mode: .existing)
            defer { store.close() }
            let report: BetaOperations.ImportReport
            do {
                guard try store.program(slug: program) != nil else { throw CommandFailure("there is no beta program \(program)") }
                report = try BetaOperations.importCSV(store, program: program, csv: String(decoding: data, as: UTF8.self), partial: partial, by: "cli")
            } catch let error as BetaOperations.ImportFailure {
                switch error {
                case .csv(let message): throw CommandFailure("\(file): \(message)")
                case .storage(let e): throw CommandFailure("\(e)")
                }
            }
            for e in report.errors { print("row \(e.row), column \(e.column.isEmpty ? "-" : e.column): \(e.reason)") }
            if report.problemCount > report.errors.count {
                print("... and \(report.problemCount - report.errors.count) more problems (\(report.invalidSummary))")
            }
            guard report.applied else {
                throw CommandFailure("\(report.invalidSummary); nothing was applied (--partial applies the valid rows)")
            }
            print("created \(report.created), updated \(report.updated)")
        }
    }
}
