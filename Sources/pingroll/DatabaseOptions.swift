import ArgumentParser
import Foundation
import Logging
import PingRollCore
import PingRollStore

/// `--database`, shared by every subcommand that opens the store.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "SQLite file path (default ./data/pingroll.sqlite3; its directory is created), or a PostgreSQL URL (postgres://... or postgresql://...). Env: PINGROLL_DATABASE.",
        valueName: "path|url"))
    var database: String?

    @Option(name: .long, help: "PostgreSQL connections per process (default 4). Env: PINGROLL_POOL_SIZE.")
    var poolSize: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Most bytes the quarantine of rejected bodies may hold (bodies are stored compressed; default 256 MiB, at least 2 MiB). Past it the oldest entries are dropped and counted. Env: PINGROLL_QUARANTINE_MAX_BYTES.",
        valueName: "bytes"))
    var quarantineMaxBytes: Int64?

    static let defaultPath = "./data/pingroll.sqlite3"

    /// The quarantine cap from the option, the environment, or the default.
    func quarantineCap() throws -> Int64 {
        var cap = QuarantineRecord.defaultMaxStoredBytes
        if let value = quarantineMaxBytes {
            cap = value
        } else if let text = ProcessInfo.processInfo.environment["PINGROLL_QUARANTINE_MAX_BYTES"], !text.isEmpty {
            guard let value = Int64(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("PINGROLL_QUARANTINE_MAX_BYTES must be a whole number of bytes (got \(text))")
            }
            cap = value
        }
        // One largest entry must always fit, or every rejection would drop itself.
        guard cap >= 2 << 20, cap <= 1 << 50 else {
            throw ValidationError("--quarantine-max-bytes must be from 2097152 (2 MiB) to 2^50 bytes (got \(cap))")
        }
        return cap
    }

    var location: String {
        database ?? ProcessInfo.processInfo.environment["PINGROLL_DATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultPath
    }

    /// The location with any password masked, for logs.
    var displayLocation: String {
        var text = location
        if let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@"),
           let colon = text[scheme.upperBound..<at].firstIndex(of: ":") {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
        if let range = text.range(of: "password=") {
            let end = text[range.upperBound...].firstIndex(of: "&") ?? text.endIndex
            text.replaceSubrange(range.upperBound..<end, with: "***")
        }
        return text
    }

    /// Opens the store the location names; with a catalog, it maintains rollups.
    func openStore(catalog: MetricCatalog? = nil) throws -> any PingStore {
        let location = self.location
        let cap = try quarantineCap()
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            let size = poolSize ?? ProcessInfo.processInfo.environment["PINGROLL_POOL_SIZE"].flatMap(Int.init) ?? 4
            guard size > 0 else { throw ValidationError("--pool-size must be positive") }
            do {
                return try PostgresStore(url: location, catalog: catalog, poolSize: size, quarantineMaxBytes: cap)
            } catch {
                throw CommandFailure("cannot open the PostgreSQL database: \(error)")
            }
        }
        var path = location
        if path.hasPrefix("sqlite://") { path.removeFirst("sqlite://".count) } else if path.hasPrefix("sqlite:") { path.removeFirst("sqlite:".count) }
        guard !path.isEmpty else { throw ValidationError("--database is empty") }
        do {
            return try SQLiteStore(path: path, catalog: catalog, quarantineMaxBytes: cap)
        } catch {
            throw CommandFailure("cannot open \(path): \(error)")
        }
    }
}

extension DatabaseOptions {
    /// Opens the store and applies pending migrations, for commands that then read or write it.
    func openMigratedStore(catalog: MetricCatalog? = nil) throws -> any PingStore {
        let store = try openStore(catalog: catalog)
        do {
            try store.migrate()
        } catch {
            store.close()
            throw CommandFailure("cannot migrate \(displayLocation): \(error)")
        }
        return store
    }
}

/// A failure that ends a command with a message and exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--log-level`, shared by long-running subcommands.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default info). Env: PINGROLL_LOG_LEVEL.")
    var logLevel: String?

    func bootstrap(label: String) throws -> Logger {
        let text = logLevel ?? ProcessInfo.processInfo.environment["PINGROLL_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level \(text)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
