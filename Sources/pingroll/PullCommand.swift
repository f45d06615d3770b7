import ArgumentParser
import Foundation
import PingRollCore
import PingRollService
import PingRollStore

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Fetches an instance's cached Service Ping payload from its API and stores it.",
        discussion: """
            GETs /api/v4/usage_data/service_ping (GitLab 16.9 or later) with a personal access \
            token that has the read_service_ping scope, and stores the payload through the same \
            validation, dedupe and rollups as a posted ping: pulling the same payload again \
            changes nothing. A payload that is not a valid ping goes to the quarantine.

            The token is read from a file (never from the command line, where other users can \
            see it) and is never printed or logged. Only https:// URLs are used (plain http:// \
            for loopback addresses only); redirects are not followed.
            """
    )

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var catalogOptions: CatalogOptions

    @Option(name: .long, help: ArgumentHelp("The instance's URL, e.g. https://gitlab.example.com (with its relative URL root, if any).", valueName: "url"))
    var url: String

    @Option(name: .customLong("token-file"), help: ArgumentHelp("A file holding the personal access token (read_service_ping scope).", valueName: "file"))
    var tokenFile: String

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the instance (1–300).", valueName: "seconds"))
    var timeout: Int = 30

    func validate() throws {
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be 1 to 300 seconds") }
    }

    func run() throws {
        let pull: ServicePingPull
        do { pull = try ServicePingPull(base: url, timeoutSeconds: Double(timeout)) } catch { throw ValidationError("--url: \(error)") }
        let token = try Self.readToken(tokenFile)
        let (catalog, _) = try catalogOptions.load()
        let store = try db.openStore(catalog: catalog, mode: .existing)
        defer { store.close() }
        do { try store.migrate() } catch { throw CommandFailure("\(error)") }
        let bytes: [UInt8]
        do { bytes = try pull.fetch(token: token) } catch { throw CommandFailure("pull from \(pull.endpoint.host ?? url): \(error)") }
        switch pull.storable(bytes, intake: PingIntake(catalog: catalog), receivedAt: Timestamp.now()) {
        case .success(let record):
            let outcome: WriteOutcome
            do { outcome = try store.write([.ping(record)])[0] } catch { throw CommandFailure("cannot store the payload: \(error)") }
            switch outcome {
            case .duplicate(let id): print("already stored: usage_data_id \(id) (\(record.facts.installation), recorded at \(record.facts.recordedAt))")
            default: print("stored usage_data_id \(outcome.id) (\(record.facts.installation), recorded at \(record.facts.recordedAt))")
            }
        case .failure(let rejected):
            _ = try? store.write([.quarantine(rejected.entry)])
            throw CommandFailure("the payload from \(pull.endpoint.host ?? url) is not a valid ping (\(rejected.refusal.code): \(rejected.refusal.message)); it is in the quarantine")
        }
    }

    /// The token from its file (`ServicePingPull.readToken`); a file others may read is used
    /// but warned about.
    static func readToken(_ path: String) throws -> String {
        let token: String
        do { token = try ServicePingPull.readToken(path) } catch { throw ValidationError("--token-file: \(error)") }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            FileHandle.standardError.write(Data("warning: \(path) may be read by other users; chmod 600 it\n".utf8))
        }
        return token
    }
}
