import Foundation
import PingRollService

/// `serve --pull-config FILE`:
///
///     interval: 24h          # s, m, h or d; 1 s to 30 days; default 24h
///     instances:
///       - name: gitlab-a
///         url: https://gitlab-a.example.com
///         token-file: /etc/pingroll/gitlab-a.token
public struct PullConfig: Sendable {
    public let instances: [ScheduledPulls.Instance]
    public let intervalSeconds: Double

    public struct Problem: Error, CustomStringConvertible { public let description: String }

    public init(path: String) throws(Problem) {
        let document: YAMLValue?
        do throws(YAMLDocument.Failure) { document = try YAMLDocument.load(path: path) } catch {
            throw Problem(description: "--pull-config \(path)\(error.line.map { ":\($0)" } ?? ""): \(error.reason)")
        }
        try self.init(document: document, path: path)
    }

    /// Checks a parsed document; `path` names it in messages.
    public init(document: YAMLValue?, path: String) throws(Problem) {
        func problem(_ text: String, line: Int? = nil) -> Problem {
            Problem(description: "--pull-config \(path)\(line.map { ":\($0)" } ?? ""): \(text)")
        }
        guard case .mapping(let mapping)? = document else { throw problem("must be a mapping with `instances` (and optionally `interval`)") }
        for entry in mapping where entry.key != "interval" && entry.key != "instances" {
            throw problem("`\(YAMLDocument.clipped(entry.key))` is not a setting; give `interval` and `instances`", line: entry.line)
        }
        let intervalEntry = mapping.first { $0.key == "interval" }
        guard let interval = Self.seconds(intervalEntry?.value ?? .string("24h")) else {
            throw problem("`interval` must be a duration such as 30m, 24h or 7d (1 s to 30 days)", line: intervalEntry?.line)
        }
        intervalSeconds = interval
        let listEntry = mapping.first { $0.key == "instances" }
        guard case .list(let list)? = listEntry?.value, !list.isEmpty, list.count <= 10_000 else {
            throw problem("`instances` must list at least one instance (name, url, token-file)", line: listEntry?.line)
        }
        var instances: [ScheduledPulls.Instance] = []
        for (i, item) in list.enumerated() {
            guard case .mapping(let entry) = item else { throw problem("instance \(i + 1) must be a mapping of name, url and token-file", line: listEntry?.line) }
            let line = entry.first?.line
            for field in entry where !["name", "url", "token-file"].contains(field.key) {
                throw problem("instance \(i + 1): `\(YAMLDocument.clipped(field.key))` is not a setting (name, url, token-file)", line: field.line)
            }
            func text(_ key: String) -> String? {
                guard case .string(let s)? = entry.first(where: { $0.key == key })?.value else { return nil }
                return s
            }
            guard let name = text("name"), !name.isEmpty, name.count <= 64 else { throw problem("instance \(i + 1) needs a `name` (1 to 64 characters)", line: line) }
            guard !instances.contains(where: { $0.name == name }) else { throw problem("two instances are named `\(name)`", line: line) }
            guard let url = text("url") else { throw problem("instance `\(name)` needs a `url`", line: line) }
            do { _ = try ServicePingPull(base: url) } catch { throw problem("instance `\(name)`: \(error)", line: line) }
            guard let tokenFile = text("token-file"), !tokenFile.isEmpty else { throw problem("instance `\(name)` needs a `token-file`", line: line) }
            guard FileManager.default.isReadableFile(atPath: tokenFile) else { throw problem("instance `\(name)`: cannot read its token file \(tokenFile)", line: line) }
            instances.append(ScheduledPulls.Instance(name: name, url: url, tokenFile: tokenFile))
        }
        self.instances = instances
    }

    /// `90`, `90s`, `30m`, `24h`, `7d`; nil when not a duration from 1 s to 30 days.
    public static func seconds(_ value: YAMLValue) -> Double? {
        let text: String
        switch value {
        case .string(let s): text = s
        case .int(let i): text = String(i)
        default: return nil
        }
        guard (1...12).contains(text.count) else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let unit = text.last.flatMap { units[$0] }
        let number = unit == nil ? text : String(text.dropLast())
        guard number.allSatisfy(\.isASCII), let n = Int(number), n > 0 else { return nil }
        let seconds = Double(n) * (unit ?? 1)
        return (1...(30 * 86_400)).contains(seconds) ? seconds : nil
    }
}
