import ArgumentParser
import Foundation
import Glibc
import PingRollCore
import PingRollService
import PingRollStore

/// How `serve` and `pingroll digest send` deliver subscriptions: the webhook secrets' key, the
/// SMTP server, the dashboards' public address.
struct NotifyOptions: ParsableArguments {
    @Option(name: .customLong("secrets-key-file"), help: ArgumentHelp("32 random bytes (64 hex digits) that seal webhook secrets in the database; every collector on one database needs the same file. Default, on SQLite: pingroll-secrets.key beside the database, created (mode 0600) when first needed. Env: PINGROLL_SECRETS_KEY_FILE.", valueName: "file"))
    var secretsKeyFile: String?

    @Option(name: .customLong("smtp-url"), help: ArgumentHelp("SMTP server for e-mailed digests: smtp://HOST:PORT (STARTTLS when offered) or smtps://HOST:PORT. Env: PINGROLL_SMTP_URL.", valueName: "url"))
    var smtpURL: String?

    @Option(name: .customLong("smtp-from"), help: ArgumentHelp("The sender address of e-mailed digests. Env: PINGROLL_SMTP_FROM.", valueName: "address"))
    var smtpFrom: String?

    @Option(name: .customLong("smtp-credentials"), help: ArgumentHelp("A file with one line user:password for the SMTP server; mode 0600 required; never logged. Env: PINGROLL_SMTP_CREDENTIALS.", valueName: "file"))
    var smtpCredentials: String?

    @Option(name: .customLong("smtp-starttls"), help: ArgumentHelp("`require`: refuse an smtp:// server that does not offer STARTTLS (default `try`).", valueName: "try|require"))
    var smtpStartTLS: String = "try"

    @Option(name: .customLong("alert-interval"), help: ArgumentHelp("How often serve evaluates the alert rules on their latest complete period: 1h (default), 15m, 3600 (seconds).", valueName: "duration"))
    var alertInterval: String = "1h"

    /// `--alert-interval` in seconds (validated by `settings`).
    var alertIntervalSeconds: Double { Double(SeriesPresentation.duration(alertInterval) ?? 3_600_000) / 1000 }

    @Option(name: .customLong("smtp-ca-file"), help: ArgumentHelp("PEM certificates to trust for the SMTP server's TLS instead of the system's (an internal CA).", valueName: "file"))
    var smtpCAFile: String?

    @Option(name: .customLong("smtp-timeout"), help: ArgumentHelp("Seconds one message may take, connection included (default 30); a server that stalls is a failed delivery, retried later.", valueName: "seconds"))
    var smtpTimeout: Double = 30

    @Option(name: .customLong("public-url"), help: ArgumentHelp("Where people open this pingroll's dashboards (https://pingroll.example.com): digests link to it. Env: PINGROLL_PUBLIC_URL.", valueName: "url"))
    var publicURL: String?

    static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The settings; `database` is where the default key file lives (SQLite only).
    func settings(database: DatabaseOptions.Location, dashboards: @escaping @Sendable () -> [Dashboard]) throws -> NotifySettings {
        guard let ms = SeriesPresentation.duration(alertInterval), ms >= 60_000 else {
            throw ValidationError("--alert-interval must be a duration of at least a minute: 1h, 15m, 3600 (got \(alertInterval))")
        }
        var settings = NotifySettings(publicURL: publicURL ?? Self.environment("PINGROLL_PUBLIC_URL"), dashboards: dashboards)
        if let url = settings.publicURL, !WebhookURL.isValid(url) { throw ValidationError("--public-url must be an http or https URL (got \(url))") }
        settings.secrets = try secretBox(database)
        if let url = smtpURL ?? Self.environment("PINGROLL_SMTP_URL") {
            let lower = url.lowercased()
            guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://"), url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw ValidationError("--smtp-url must be smtp://HOST:PORT or smtps://HOST:PORT (got \(url))")
            }
            guard let from = smtpFrom ?? Self.environment("PINGROLL_SMTP_FROM"), EmailAddress.isValid(from) else {
                throw ValidationError("--smtp-url needs --smtp-from ADDRESS, an e-mail address")
            }
            guard smtpStartTLS == "try" || smtpStartTLS == "require" else { throw ValidationError("--smtp-starttls must be try or require") }
            guard (1...600).contains(smtpTimeout) else { throw ValidationError("--smtp-timeout must be 1 to 600 seconds") }
            if let ca = smtpCAFile, let problem = InputFile.problem(ca) { throw ValidationError("--smtp-ca-file \(ca): \(problem)") }
            var mail = MailSettings(url: url, from: from, requireTLS: smtpStartTLS == "require", timeoutSeconds: smtpTimeout, caFile: smtpCAFile)
            if let path = smtpCredentials ?? Self.environment("PINGROLL_SMTP_CREDENTIALS") {
                (mail.username, mail.password) = try Self.credentials(path)
            }
            settings.mail = mail
        }
        return settings
    }

    /// `user:password` from a file only its owner may read.
    static func credentials(_ path: String) throws -> (String, String) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ValidationError("--smtp-credentials \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o077 == 0 else { throw ValidationError("--smtp-credentials \(path) may be read by other users (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it") }
        let bytes = try InputFile.read(path, what: "the SMTP credentials", maxBytes: 4096)
        let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex, line.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw ValidationError("--smtp-credentials \(path): the first line must be user:password")
        }
        return (String(line[..<colon]), String(line[line.index(after: colon)...]))
    }

    /// The key from `--secrets-key-file`, or on SQLite the default file (created when missing).
    func secretBox(_ database: DatabaseOptions.Location) throws -> SecretBox? {
        var path = secretsKeyFile ?? Self.environment("PINGROLL_SECRETS_KEY_FILE")
        var create = false
        if path == nil, case .sqlite(let db) = database {
            path = URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("pingroll-secrets.key").path
            create = true
        }
        guard let path else { return nil }
        if create && access(path, F_OK) != 0 {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                let text = Array((Digest.hex(Digest.randomBytes(32)) + "\n").utf8)
                let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                guard written == text.count else { throw CommandFailure("cannot write the secrets key \(path): \(String(cString: strerror(errno)))") }
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw ValidationError("--secrets-key-file \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o077 == 0 else { throw ValidationError("--secrets-key-file \(path) may be read by other users; chmod 600 it") }
        let text = String(decoding: try InputFile.read(path, what: "the secrets key", maxBytes: 1024), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var key: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: throw ValidationError("--secrets-key-file \(path) must hold 64 hex digits (32 bytes): `openssl rand -hex 32`")
            }
            if let h = high { key.append(h << 4 | v); high = nil } else { high = v }
        }
        guard high == nil, let box = SecretBox(key: key) else { throw ValidationError("--secrets-key-file \(path) must hold 64 hex digits (32 bytes): `openssl rand -hex 32`") }
        return box
    }
}
