import Foundation
import PingRollService

/// `serve --pull-config FILE`:
///
///     interval: 24h          # s, m, h or d; 1 s to 30 days; default 24h
///     instances:
///       - name: gitlab-a
///         url: https://gitlab-a.example.com
///         token-file: /etc/pingroll/gitlab-a.token
struct PullConfig {
    let instances: [ScheduledPulls.Instance]
    let intervalSeconds: Double

    struct Problem: Error, CustomStringConvertible { let description: String }

    init(path: String) throws {
        func problem(_ text: String) -> Problem { Problem(description: "--pull-config \(path): \(text)") }
        let document: Any?
        do throws(YAMLFile.Failure) { document = try YAMLFile.load(path) } catch { throw problem("\(error)") }
        guard let mapping = document as? [String: Any] else { throw problem("must be a mapping with `instances` (and optionally `interval`)") }
        for key in mapping.keys where key != "interval" && key != "instances" { throw problem("`\(key)` is not a setting; give `interval` and `instances`") }
        guard let interval = Self.seconds(mapping["interval"] ?? "24h") else {
            throw problem("`interval` must be a duration such as 30m, 24h or 7d (1 s to 30 days)")
        }
        intervalSeconds = interval
        guard let list = mapping["instances"] as? [Any], !list.isEmpty, list.count <= 10_000 else {
            throw problem("`instances` must list at least one instance (name, url, token-file)")
        }
        var instances: [ScheduledPulls.Instance] = []
        for (i, item) in list.enumerated() {
            guard let entry = item as? [String: Any] else { throw problem("instance \(i + 1) must be a mapping of name, url and token-file") }
            for key in entry.keys where !["name", "url", "token-file"].contains(key) { throw problem("instance \(i + 1): `\(key)` is not a setting (name, url, token-file)") }
            guard let name = entry["name"] as? String, !name.isEmpty, name.count <= 64 else { throw problem("instance \(i + 1) needs a `name` (1 to 64 characters)") }
            guard !instances.contains(where: { $0.name == name }) else { throw problem("two instances are named `\(name)`") }
            guard let url = entry["url"] as? String else { throw problem("instance `\(name)` needs a `url`") }
            do { _ = try ServicePingPull(base: url) } catch { throw problem("instance `\(name)`: \(error)") }
            guard let tokenFile = entry["token-file"] as? String, !tokenFile.isEmpty else { throw problem("instance `\(name)` needs a `token-file`") }
            guard FileManager.default.isReadableFile(atPath: tokenFile) else { throw problem("instance `\(name)`: cannot read its token file \(tokenFile)") }
            instances.append(ScheduledPulls.Instance(name: name, url: url, tokenFile: tokenFile))
        }
        self.instances = instances
    }

    /// `90`, `90s`, `30m`, `24h`, `7d`; nil when not a duration from 1 s to 30 days.
    static func seconds(_ value: Any) -> Double? {
        let text = (value as? String) ?? (value as? Int).map(String.init) ?? ""
        guard (1...12).contains(text.count) else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let unit = text.last.flatMap { units[$0] }
        let number = unit == nil ? text : String(text.dropLast())
        guard number.allSatisfy(\.isASCII), let n = Int(number), n > 0 else { return nil }
        let seconds = Double(n) * (unit ?? 1)
        return (1...(30 * 86_400)).contains(seconds) ? seconds : nil
    }
}
