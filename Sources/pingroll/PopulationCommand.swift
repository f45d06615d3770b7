import ArgumentParser
import Foundation
import PingRollCore
import PingRollService
import PingRollStore

struct PopulationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "population",
        abstract: "The population the `population` estimate scales to (e.g. active subscriptions per tier and month).",
        subcommands: [Import.self, Show.self]
    )

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replaces the population with a CSV: period_start,dimension,value,installations.",
            discussion: """
                period_start is a day (YYYY-MM-DD) or a month (YYYY-MM); a row holds for the periods starting \
                on that day and up to 31 days after. dimension is all (value all or empty) or a series \
                dimension (edition, tier, installation_type, version, registry_vendor, internal, \
                optional_metrics). Every row is checked first; an error names the row and column and \
                nothing is changed. At most \(PopulationCSV.maxRows) rows.
                """
        )
        @OptionGroup var db: DatabaseOptions
        @Argument(help: "The CSV file.") var file: String

        func run() throws {
            let data = try InputFile.read(file, what: "the population CSV", maxBytes: 16 << 20)
            guard let csv = String(validating: data, as: UTF8.self) else { throw CommandFailure("\(file): the CSV is not UTF-8") }
            let rows: [PopulationRow]
            do { rows = try PopulationCSV.parse(csv) } catch { throw CommandFailure("\(file): \(error.description)") }
            let store = try db.openStore(mode: .existing)
            defer { store.close() }
            do { try store.replacePopulation(rows) } catch { throw CommandFailure("cannot store the population: \(error.reason)") }
            print("stored \(rows.count) population rows")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prints the population.")
        @OptionGroup var db: DatabaseOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() throws {
            let store = try db.openStore(mode: .existing)
            defer { store.close() }
            let rows: [PopulationRow]
            do { rows = try store.population() } catch { throw CommandFailure("cannot read the population: \(error.reason)") }
            if json { try Listing.json(PopulationBody(rows)); return }
            Listing.table(["PERIOD_START", "DIMENSION", "VALUE", "INSTALLATIONS"],
                          rows.map { [isoDate(days: $0.periodStart), $0.dimension, $0.value, String($0.installations)] })
        }
    }
}
