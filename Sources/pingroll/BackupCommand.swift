import ArgumentParser
import Foundation
import PingRollCore
import PingRollStore

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Takes a consistent copy of a SQLite database while pingroll serves, or checks a copy.",
        discussion: """
            --output FILE copies the database named by --database into FILE with SQLite's VACUUM \
            INTO: one read snapshot, so the copy holds exactly what was committed when it began \
            (every ping acknowledged before it started) and writers go on meanwhile. The copy is \
            compacted, written under a temporary name, synced and then linked into place; an \
            existing FILE is never overwritten.

            --verify FILE opens a copy and checks it: SQLite's quick_check, the schema, and \
            `rollup verify` against its raw pings. Exit status 1 if anything is wrong.

            PostgreSQL databases are backed up with pg_dump (see the README).
            """
    )

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var catalogOptions: CatalogOptions

    @Option(name: .long, help: ArgumentHelp("Where to write the copy (must not exist).", valueName: "file"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("A copy to check instead of taking one.", valueName: "file"))
    var verify: String?

    func validate() throws {
        guard (output == nil) != (verify == nil) else { throw ValidationError("give exactly one of --output FILE and --verify FILE") }
        if let output, output.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--output is empty") }
        if let verify, verify.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--verify is empty") }
    }

    func run() throws {
        if let output { try take(output) } else if let verify { try check(verify) }
    }

    private func take(_ output: String) throws {
        guard case .sqlite = try DatabaseOptions.parseLocation(db.location) else {
            throw CommandFailure("pingroll backup copies SQLite databases; back up PostgreSQL with pg_dump (the README says how)")
        }
        guard case .sqlite(let target) = try DatabaseOptions.parseLocation(output) else {
            throw CommandFailure("--output must be a file path")
        }
        let store = try db.openStore(catalog: nil, mode: .existing)
        defer { store.close() }
        guard let sqlite = store as? SQLiteStore else { throw CommandFailure("pingroll backup copies SQLite databases") }
        let started = Date()
        let bytes: Int64
        do {
            bytes = try sqlite.backup(to: target)
        } catch {
            throw CommandFailure("cannot back up \(db.displayLocation): \(error.reason)")
        }
        let seconds = Date().timeIntervalSince(started)
        print("backed up \(db.displayLocation) to \(target): \(bytes) bytes in \(String(format: "%.1f", seconds)) s")
    }

    private func check(_ file: String) throws {
        guard case .sqlite(let path) = try DatabaseOptions.parseLocation(file) else { throw CommandFailure("--verify must be a file path") }
        var copy = db
        copy.database = path
        let (catalog, _) = try catalogOptions.load()
        let store = try copy.openStore(catalog: catalog, mode: .existing)
        defer { store.close() }
        guard let sqlite = store as? SQLiteStore else { throw CommandFailure("--verify checks SQLite files") }
        do {
            let problems = try sqlite.integrityProblems()
            for problem in problems.prefix(20) { print("integrity: \(problem)") }
            let pending = try store.migrationStatus().filter { $0.appliedAt == nil }
            if !pending.isEmpty { print("schema: \(pending.count) migrations not applied (the copy is of an older pingroll; `pingroll migrate` upgrades it)") }
            let result = try store.verifyRollups(progress: nil)
            for difference in result.differences.prefix(20) { print("differs: \(difference)") }
            for metric in result.stale { print("stale: \(metric)") }
            if !result.rebuilding.isEmpty { print("rebuilding: \(result.rebuilding.joined(separator: ", ")) (the copy was taken during a rollup rebuild)") }
            let clean = problems.isEmpty && result.isClean
            print("\(path): \(result.pings) pings, integrity \(problems.isEmpty ? "ok" : "damaged"), \(result.cellsChecked) cells checked, \(result.differences.count) differences, \(result.stale.count) stale metrics: \(clean ? "clean" : "NOT clean")")
            if !clean { throw ExitCode(1) }
        } catch let error as StorageError {
            throw CommandFailure("cannot check \(path): \(error.reason)")
        }
    }
}
