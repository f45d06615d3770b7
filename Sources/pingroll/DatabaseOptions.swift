import ArgumentParser
import Foundation
import Logging
import PingRollCore
import PingRollStore

/// `--database`, shared by every subcommand that opens the store.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A SQLite file path, or a PostgreSQL URL (postgres://... or postgresql://...); nothing else. Default: /var/lib/pingroll/pingroll.sqlite3 for root, else $XDG_DATA_HOME/pingroll/pingroll.sqlite3 (~/.local/share/pingroll/...), the same wherever the command runs. Only serve and migrate create a database. Env: PINGROLL_DATABASE.",
        valueName: "path|url"))
    var database: String?

    @Option(name: .long, help: "PostgreSQL connections per process (default 4). Env: PINGROLL_POOL_SIZE.")
    var poolSize: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Most bytes the quarantine of rejected bodies may hold (bodies are stored compressed; default 256 MiB, at least 2 MiB). Past it the oldest entries are dropped and counted. Env: PINGROLL_QUARANTINE_MAX_BYTES.",
        valueName: "bytes"))
    var quarantineMaxBytes: Int64?

    /// The default SQLite file: absolute, so every command run anywhere on the machine finds
    /// the same database.
    static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        if getuid() == 0 { return "/var/lib/pingroll/pingroll.sqlite3" }
        if let xdg = env["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/pingroll/pingroll.sqlite3" }
        let home = env["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? NSHomeDirectory()
        return home + "/.local/share/pingroll/pingroll.sqlite3"
    }

    /// Where a database lives, as the option or environment names it.
    enum Location: Equatable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    /// Whether a command may create the database it opens.
    enum OpenMode { case create, existing }

    /// Parses a `--database` value: a PostgreSQL URL, or a path made absolute against the
    /// working directory; any other `scheme://` is an error, never a file name.
    static func parseLocation(_ text: String) throws -> Location {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw ValidationError("--database is empty; give a SQLite file path or a postgres:// URL") }
        if let scheme = trimmed.range(of: "://") {
            let name = trimmed[..<scheme.lowerBound].lowercased()
            guard name == "postgres" || name == "postgresql" else {
                throw ValidationError("--database \(trimmed): `\(name)://` is not a database pingroll can use; give a SQLite file path or a postgres:// / postgresql:// URL")
            }
            return .postgres(url: trimmed)
        }
        let path = trimmed.hasPrefix("/") ? trimmed : FileManager.default.currentDirectoryPath + "/" + trimmed
        return .sqlite(path: URL(fileURLWithPath: path).standardizedFileURL.path)
    }

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

    /// For a SQLite database that users other than its owner may read (a file made before
    /// pingroll kept its files private, or copied in): one line saying so, else nil.
    var exposureWarning: String? {
        guard case .sqlite(let path)? = try? Self.parseLocation(location) else { return nil }
        var found: [String] = []
        for file in [path, path + "-wal", (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent] {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            // A directory others may list is fine if the file itself is private; a file others may read is not.
            if !isDirectory && info.st_mode & 0o044 != 0 { found.append("\(file) (mode \(String(info.st_mode & 0o777, radix: 8)))") }
        }
        guard !found.isEmpty else { return nil }
        return "the database can be read by other users: \(found.joined(separator: ", ")); run chmod 600 on it (pingroll creates its files 0600)"
    }

    /// Opens the store the location names; with a catalog, it maintains rollups. With
    /// `.existing` a missing SQLite file, or a database without pingroll's schema, is an error
    /// (a mistyped path must not quietly become a new, empty database).
    func openStore(catalog: MetricCatalog? = nil, mode: OpenMode) throws -> any PingStore {
        let cap = try quarantineCap()
        let store: any PingStore
        switch try Self.parseLocation(location) {
        case .postgres(let url):
            let size = poolSize ?? ProcessInfo.processInfo.environment["PINGROLL_POOL_SIZE"].flatMap(Int.init) ?? 4
            guard size > 0 else { throw ValidationError("--pool-size must be positive") }
            do {
                store = try PostgresStore(url: url, catalog: catalog, poolSize: size, quarantineMaxBytes: cap)
            } catch {
                throw CommandFailure("cannot open the PostgreSQL database \(displayLocation): \(error)")
            }
        case .sqlite(let path):
            if mode == .existing {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                    throw CommandFailure("there is no pingroll database at \(path); pass --database (or PINGROLL_DATABASE) to name yours, or create one with `pingroll migrate --database \(path)`")
                }
            }
            do {
                store = try SQLiteStore(path: path, catalog: catalog, quarantineMaxBytes: cap)
            } catch {
                throw CommandFailure("cannot open \(path): \(error.reason)")
            }
        }
        if mode == .existing {
            do {
                guard try store.migrationStatus().contains(where: { $0.appliedAt != nil }) else {
                    store.close()
                    throw CommandFailure("\(displayLocation) has no pingroll schema; create it with `pingroll migrate --database \(displayLocation)`")
                }
            } catch let error as StorageError {
                store.close()
                throw CommandFailure("cannot read \(displayLocation): \(error.reason)")
            }
        }
        return store
    }
}

extension DatabaseOptions {
    /// Opens an existing database and applies pending migrations, for commands that then read
    /// or write it.
    func openMigratedStore(catalog: MetricCatalog? = nil) throws -> any PingStore {
        let store = try openStore(catalog: catalog, mode: .existing)
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

/// `--log-level` and `--log-format`, shared by long-running subcommands.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default info). Env: PINGROLL_LOG_LEVEL.")
    var logLevel: String?

    @Option(name: .long, help: "text (default) or json: one JSON object per line on standard error. Env: PINGROLL_LOG_FORMAT.")
    var logFormat: String?

    func bootstrap(label: String) throws -> Logger {
        let text = logLevel ?? ProcessInfo.processInfo.environment["PINGROLL_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level \(text)")
        }
        let format = (logFormat ?? ProcessInfo.processInfo.environment["PINGROLL_LOG_FORMAT"] ?? "text").lowercased()
        guard format == "text" || format == "json" else { throw ValidationError("--log-format must be text or json, not \(format)") }
        LoggingSystem.bootstrap { label in
            if format == "json" {
                var handler = JSONLinesLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
