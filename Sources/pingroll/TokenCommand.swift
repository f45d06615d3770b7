import ArgumentParser
import PingRollCore
import PingRollStore

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Creates, lists and revokes API tokens (`Authorization: Bearer TOKEN` on /api/v1).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates a token and prints it on the last line of output; only its hash is stored.",
            discussion: "Roles: viewer (dashboards, rollups), pm (beta records with contacts, exports, edits), admin (tokens, reprocessing, retention)."
        )
        @OptionGroup var db: DatabaseOptions
        @Option(help: "viewer, pm or admin.") var role: String
        @Option(help: "A unique name for the token, e.g. the person or tool using it.") var name: String

        func run() throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role must be viewer, pm or admin") }
            guard !name.isEmpty, name.count <= 100 else { throw ValidationError("--name must be 1 to 100 characters") }
            let store = try db.openMigratedStore()
            defer { store.close() }
            do {
                let token = try store.createToken(name: name, role: role)
                print("created token \(name) (\(role.rawValue)); it is shown only now:")
                print(token.text)
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists tokens: name, role, created, revoked (never the secrets).")
        @OptionGroup var db: DatabaseOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        struct Row: Encodable {
            var name: String, role: String, created_at: String, revoked_at: String?
        }

        func run() throws {
            let store = try db.openMigratedStore()
            defer { store.close() }
            let tokens: [TokenInfo]
            do { tokens = try store.tokens() } catch { throw CommandFailure("cannot list the tokens: \(error.reason)") }
            if json {
                try Listing.json(tokens.map { Row(name: $0.name, role: $0.role.rawValue, created_at: $0.createdAt.description, revoked_at: $0.revokedAt?.description) })
            } else {
                Listing.table(["NAME", "ROLE", "CREATED", "STATUS"], tokens.map {
                    [$0.name, $0.role.rawValue, $0.createdAt.description, $0.revokedAt.map { "revoked \($0)" } ?? "active"]
                })
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes the active token with this name.")
        @OptionGroup var db: DatabaseOptions
        @Argument(help: "The token's name.") var name: String

        func run() throws {
            let store = try db.openMigratedStore()
            defer { store.close() }
            let revoked: Bool
            do {
                revoked = try store.revokeToken(name: name)
            } catch {
                throw CommandFailure("\(error)")
            }
            guard revoked else { throw CommandFailure("there is no active token named \(name)") }
            print("revoked \(name)")
        }
    }
}
