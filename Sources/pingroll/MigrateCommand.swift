import ArgumentParser
import Foundation
import PingRollCore
import PingRollStore

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Applies pending schema migrations and prints the schema version.",
        discussion: "`serve` applies them on start too; this is for doing it ahead of a deploy, or checking with --status."
    )

    @OptionGroup var db: DatabaseOptions

    @Flag(name: .long, help: "List applied and pending migrations without applying any.")
    var status = false

    func run() throws {
        let store = try db.openStore(mode: .create)
        defer { store.close() }
        do {
            if status {
                for m in try store.migrationStatus() {
                    let state = m.appliedAt.map { "applied \(Timestamp(milliseconds: $0))" } ?? "pending"
                    print("\(m.version)\t\(state)\t\(m.name)")
                }
                return
            }
            let applied = try store.migrate()
            for m in applied { print("applied \(m.version): \(m.name)") }
            let version = try store.migrationStatus().filter { $0.appliedAt != nil }.map(\.version).max() ?? 0
            print("schema version \(version)")
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
