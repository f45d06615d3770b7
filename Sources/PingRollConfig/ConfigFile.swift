import Foundation

/// `serve --config FILE`: a YAML mapping whose keys are serve's long options without the
/// dashes (`listen: 0.0.0.0:443`, `metrics-allow: [10.0.0.0/8]`, `access-log: true`).
///
/// Precedence is command line > environment > file > default. The file is applied by turning
/// each of its settings into the command-line argument it stands for, unless the command line
/// already gives that option or its environment variable is set; ArgumentParser then parses
/// one command line, so the file cannot mean anything a flag could not.
public struct ConfigFile: Sendable {
    public enum Kind: Sendable { case value, flag, list }

    public struct Setting: Sendable {
        public let name: String
        public let kind: Kind
        public let environment: String?
        /// Shown masked by `config check` (passwords in a database URL).
        public var secret = false
    }

    /// Every serve option a file may set (`discard-bodies`, a benchmark mode, is not one).
    public static let settings: [Setting] = [
        Setting(name: "database", kind: .value, environment: "PINGROLL_DATABASE", secret: true),
        Setting(name: "pool-size", kind: .value, environment: "PINGROLL_POOL_SIZE"),
        Setting(name: "quarantine-max-bytes", kind: .value, environment: "PINGROLL_QUARANTINE_MAX_BYTES"),
        Setting(name: "catalog", kind: .value, environment: "PINGROLL_CATALOG"),
        Setting(name: "dashboards", kind: .value, environment: nil),
        Setting(name: "chartjs", kind: .value, environment: nil),
        Setting(name: "log-level", kind: .value, environment: "PINGROLL_LOG_LEVEL"),
        Setting(name: "log-format", kind: .value, environment: "PINGROLL_LOG_FORMAT"),
        Setting(name: "listen", kind: .value, environment: "PINGROLL_LISTEN"),
        Setting(name: "listen-http", kind: .value, environment: "PINGROLL_LISTEN_HTTP"),
        Setting(name: "tls-cert", kind: .value, environment: "PINGROLL_TLS_CERT"),
        Setting(name: "tls-key", kind: .value, environment: "PINGROLL_TLS_KEY"),
        Setting(name: "tls-priority", kind: .value, environment: "PINGROLL_TLS_PRIORITY"),
        Setting(name: "max-body-bytes", kind: .value, environment: nil),
        Setting(name: "max-decompressed-bytes", kind: .value, environment: nil),
        Setting(name: "threads", kind: .value, environment: nil),
        Setting(name: "connection-limit", kind: .value, environment: nil),
        Setting(name: "connection-timeout", kind: .value, environment: nil),
        Setting(name: "connections-per-address", kind: .value, environment: nil),
        Setting(name: "head-timeout", kind: .value, environment: nil),
        Setting(name: "min-body-rate", kind: .value, environment: nil),
        Setting(name: "body-memory-limit", kind: .value, environment: nil),
        Setting(name: "shutdown-grace", kind: .value, environment: nil),
        Setting(name: "min-reliable-count", kind: .value, environment: nil),
        Setting(name: "viewer-min-count", kind: .value, environment: nil),
        Setting(name: "complete-after", kind: .value, environment: nil),
        Setting(name: "api-workers", kind: .value, environment: nil),
        Setting(name: "api-queue", kind: .value, environment: nil),
        Setting(name: "api-request-timeout", kind: .value, environment: nil),
        Setting(name: "metrics-allow", kind: .list, environment: "PINGROLL_METRICS_ALLOW"),
        Setting(name: "ingest-allow", kind: .list, environment: "PINGROLL_INGEST_ALLOW"),
        Setting(name: "ingest-rate-limit", kind: .value, environment: "PINGROLL_INGEST_RATE_LIMIT"),
        Setting(name: "access-log", kind: .flag, environment: "PINGROLL_ACCESS_LOG"),
        Setting(name: "pull-config", kind: .value, environment: "PINGROLL_PULL_CONFIG"),
        Setting(name: "retention-payload-days", kind: .value, environment: "PINGROLL_RETENTION_PAYLOAD_DAYS"),
        Setting(name: "retention-report-days", kind: .value, environment: "PINGROLL_RETENTION_REPORT_DAYS"),
        Setting(name: "secrets-key-file", kind: .value, environment: "PINGROLL_SECRETS_KEY_FILE"),
        Setting(name: "smtp-url", kind: .value, environment: "PINGROLL_SMTP_URL"),
        Setting(name: "smtp-from", kind: .value, environment: "PINGROLL_SMTP_FROM"),
        Setting(name: "smtp-credentials", kind: .value, environment: "PINGROLL_SMTP_CREDENTIALS"),
        Setting(name: "smtp-starttls", kind: .value, environment: nil),
        Setting(name: "public-url", kind: .value, environment: "PINGROLL_PUBLIC_URL"),
        Setting(name: "alert-interval", kind: .value, environment: nil),
        Setting(name: "smtp-ca-file", kind: .value, environment: nil),
        Setting(name: "smtp-timeout", kind: .value, environment: nil),
    ]

    /// Sections group settings that share a prefix: `retention: {payload-days: 400}` is
    /// `retention-payload-days: 400`.
    public static let sections = ["retention"]

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where a setting's effective value comes from.
    public enum Source: String { case commandLine = "command line", environment, file, defaultValue = "default" }

    public let path: String
    /// The file's settings in file order, as command-line argument texts.
    public let values: [(setting: Setting, texts: [String])]

    /// Reads and checks `path`: a mapping of known settings with values of the right kind.
    public init(path: String) throws(Problem) {
        let document: YAMLValue?
        do throws(YAMLDocument.Failure) { document = try YAMLDocument.load(path: path) } catch {
            throw Problem(description: Self.located(path, error))
        }
        try self.init(document: document, path: path)
    }

    /// Checks a parsed document; `path` names it in messages.
    public init(document: YAMLValue?, path: String) throws(Problem) {
        self.path = path
        guard let document else { values = []; return }
        guard case .mapping(let mapping) = document else {
            throw Problem(description: "\(path) must be a mapping of settings (`listen: 127.0.0.1:8080`), not \(document.kindName)")
        }
        var flat: [YAMLEntry] = []
        for entry in mapping {
            if Self.sections.contains(entry.key) {
                guard case .mapping(let section) = entry.value else {
                    throw Problem(description: "\(path):\(entry.line): `\(entry.key)` is a section of settings (`\(entry.key): {payload-days: 400}`)")
                }
                for sub in section { flat.append(YAMLEntry(key: "\(entry.key)-\(sub.key)", line: sub.line, value: sub.value)) }
            } else {
                flat.append(entry)
            }
        }
        var values: [(Setting, [String])] = []
        for entry in flat {
            let key = YAMLDocument.clipped(entry.key)
            let at = "\(path):\(entry.line)"
            if values.contains(where: { $0.0.name == entry.key }) {
                throw Problem(description: "\(at): `\(key)` is set twice (once in its section)")
            }
            guard let setting = Self.settings.first(where: { $0.name == entry.key }) else {
                let names = Self.settings.map(\.name)
                let near = names.min { Self.distance($0, entry.key) < Self.distance($1, entry.key) }.map { " (did you mean `\($0)`?)" } ?? ""
                throw Problem(description: "\(at): `\(key)` is not a setting\(near); settings are serve's long options without the dashes: \(names.joined(separator: ", "))")
            }
            values.append((setting, try Self.texts(entry.value, setting, at)))
        }
        self.values = values
    }

    /// A loading failure as one line naming the file (and the line, when there is one).
    static func located(_ path: String, _ failure: YAMLDocument.Failure) -> String {
        failure.line.map { "the configuration file \(path):\($0): \(failure.reason)" } ?? "the configuration file \(path) \(failure.reason)"
    }

    static func texts(_ value: YAMLValue, _ setting: Setting, _ at: String) throws(Problem) -> [String] {
        switch setting.kind {
        case .flag:
            guard case .bool(let b) = value else { throw Problem(description: "\(at): `\(setting.name)` is true or false") }
            return b ? [] : ["false"]
        case .list:
            let items: [YAMLValue] = if case .list(let list) = value { list } else { [value] }
            let texts = items.compactMap(\.scalarText)
            guard texts.count == items.count, !texts.isEmpty else {
                throw Problem(description: "\(at): `\(setting.name)` is a list of values (`[10.0.0.0/8, fd00::/8]`)")
            }
            return texts
        case .value:
            guard let text = value.scalarText else {
                throw Problem(description: "\(at): `\(setting.name)` takes one value")
            }
            return [text]
        }
    }

    /// The file named by `--config` in `arguments`, or else by `PINGROLL_CONFIG`.
    public static func location(in arguments: [String]) -> String? {
        for (i, a) in arguments.enumerated() {
            if a == "--config", i + 1 < arguments.count { return arguments[i + 1] }
            if a.hasPrefix("--config=") { return String(a.dropFirst("--config=".count)) }
        }
        return ProcessInfo.processInfo.environment["PINGROLL_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static func given(_ name: String, in arguments: [String]) -> Bool {
        arguments.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }
    }

    public func source(of setting: Setting, arguments: [String]) -> Source {
        if Self.given(setting.name, in: arguments) { return .commandLine }
        if let env = setting.environment, let v = ProcessInfo.processInfo.environment[env], !v.isEmpty { return .environment }
        if values.contains(where: { $0.setting.name == setting.name }) { return .file }
        return .defaultValue
    }

    /// `arguments` (serve's, after the subcommand name) with the file's settings added where
    /// neither the command line nor the environment sets them.
    public func merged(into arguments: [String]) -> [String] {
        var extra: [String] = []
        for (setting, texts) in values where source(of: setting, arguments: arguments) == .file {
            switch setting.kind {
            case .flag: if texts.isEmpty { extra.append("--\(setting.name)") }
            case .list, .value: for t in texts { extra += ["--\(setting.name)", t] }
            }
        }
        return arguments + extra
    }

    /// Edit distance, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty, a.count < 64, b.count < 64 else { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
