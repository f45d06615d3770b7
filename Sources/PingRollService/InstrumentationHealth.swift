import Foundation
import PingRollCore
import PingRollStore

/// Instrumentation health from the reports instances post about their own pings: which metrics
/// fail or are slow to compute (`/usage_ping_metadata`) and why whole submissions failed
/// (`/usage_ping_errors`). Nothing here carries a hostname.
public enum InstrumentationHealth {
    /// One metric name over each uuid's latest metadata report in the window.
    public struct MetricHealth: Sendable, Equatable {
        public var name: String
        /// uuids whose latest report lists the metric.
        public var installations: Int
        /// Of those, how many list it with an `error`.
        public var errors: Int
        public var errorRate: Double { installations == 0 ? 0 : Double(errors) / Double(installations) }
        /// Nearest-rank percentiles and the maximum of `time_elapsed` (seconds) over those
        /// reports that give one; nil when none does.
        public var timeElapsedP50: Double?
        public var timeElapsedP95: Double?
        public var timeElapsedMax: Double?
    }

    /// The value at rank ⌈p·n⌉ of `values` once sorted (nearest rank); nil without values. The
    /// one percentile rule of the instrumentation and beta figures.
    public static func nearestRank(_ values: [Double], _ p: Double) -> Double? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }

    /// Per metric name over each uuid's latest metadata report received in `from..<to`; with
    /// `version`, only uuids whose latest ping at or before the report ran that `major.minor`;
    /// with `prefix`, only names starting with it. Sorted by errors, then p95, both descending,
    /// then by name.
    /// Metric names come from an unauthenticated route: one request tracks at most this many
    /// (GitLab sends about two thousand); names past it are left out and `truncated` says so.
    public static let maxNames = 50_000

    /// The figures, and whether names past `maxNames` were left out.
    public static func metricsReport(_ store: any PingStore, from: Timestamp, to: Timestamp, version: (major: Int, minor: Int)?,
                                     prefix: String?) throws(StorageError) -> (metrics: [MetricHealth], truncated: Bool) {
        var installations: [String: Int] = [:], errors: [String: Int] = [:], elapsed: [String: [Double]] = [:]
        var truncated = false
        try forEachLatestReport(store, from: from, to: to) { report, listed throws(StorageError) in
            if let version, let uuid = report.uuid {
                guard let ran = try store.versionOf(uuid: uuid, at: report.receivedAt), ran == version else { return }
            }
            for entry in listed {
                let name = entry.name
                if let prefix, !name.hasPrefix(prefix) { continue }
                if installations[name] == nil && installations.count >= maxNames { truncated = true; continue }
                installations[name, default: 0] += 1
                if entry.failed { errors[name, default: 0] += 1 }
                if let t = entry.elapsed { elapsed[name, default: []].append(t) }
            }
        }
        var result: [MetricHealth] = installations.map { name, count in
            let times = (elapsed[name] ?? []).sorted()
            return MetricHealth(name: name, installations: count, errors: errors[name] ?? 0,
                                timeElapsedP50: nearestRank(times, 0.5), timeElapsedP95: nearestRank(times, 0.95), timeElapsedMax: times.last)
        }
        result.sort { a, b in
            if a.errors != b.errors { return a.errors > b.errors }
            let pa = a.timeElapsedP95 ?? -1, pb = b.timeElapsedP95 ?? -1
            if pa != pb { return pa > pb }
            return a.name < b.name
        }
        return (result, truncated)
    }

    /// Each latest metadata report received in `from..<to` with its metric entries. What bounds
    /// the cost: the reports' metric rows, read a page of 100 reports at a time (at most
    /// `MetadataEntries.maxNames` rows a report), never the reports' bytes — but for reports
    /// stored before their metrics were rows, which are decoded once each here.
    static func forEachLatestReport(_ store: any PingStore, from: Timestamp, to: Timestamp,
                                    _ visit: (MetadataReportRef, [MetadataEntries.Entry]) throws(StorageError) -> Void) throws(StorageError) {
        var after: Int64 = 0
        let page = 100
        while true {
            let reports = try store.latestMetadataReports(from: from, to: to, after: after, limit: page)
            let rows = try store.metadataMetricRows(reportIDs: reports.filter(\.folded).map(\.id))
            for report in reports {
                after = report.id
                try visit(report, report.folded ? rows[report.id] ?? [] : MetadataEntries.parse(Array((try store.metadataBody(id: report.id) ?? "").utf8)).entries)
            }
            if reports.count < page { break }
        }
    }

    /// Submission failures grouped by their normalised message.
    public struct ErrorGroup: Sendable, Equatable {
        public var message: String
        /// Distinct uuids that reported it (reports without a uuid count as one each).
        public var installations: Int
        public var reports: Int
        /// Reports per `major.minor` of the version the report names (`unknown` when none parses).
        public var versions: [String: Int]
        public var firstSeen: Timestamp
        public var lastSeen: Timestamp
    }

    /// GitLab sends `"<message> at <backtrace[0]>"`; the location (` at path:line[:in 'method']`)
    /// is stripped, whitespace runs collapse to one space, and the result is cut to 500 characters.
    public static func normalize(_ message: String) -> String {
        var text = message
        if let range = text.range(of: " at ", options: .backwards) {
            let location = text[range.upperBound...]
            // A backtrace line: `file:line` or `file:line:in 'method'`.
            let head = location.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if head.count >= 2, !head[0].isEmpty, !head[0].contains(" "), !head[1].isEmpty, head[1].allSatisfy(\.isASCIIDigit) {
                text = String(text[..<range.lowerBound])
            }
        }
        text = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        if text.isEmpty { text = "(no message)" }
        return text.count > 500 ? String(text.prefix(500)) : text
    }

    /// `16.5.1-ee` → `16.5`; nil when it does not start with two numbers.
    static func majorMinor(_ version: String?) -> String? {
        guard let version else { return nil }
        let parts = version.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = Int(parts[0]), let minorText = parts[1].split(whereSeparator: { !$0.isASCIIDigit }).first,
              parts[1].hasPrefix(minorText), let minor = Int(minorText), major >= 0, minor >= 0 else { return nil }
        return "\(major).\(minor)"
    }

    /// Error reports received in `from..<to`, grouped by normalised message (most installations
    /// first), and the number of reports per day of receipt.
    public static func errors(_ store: any PingStore, from: Timestamp, to: Timestamp) throws(StorageError) -> (groups: [ErrorGroup], perDay: [Int64: Int]) {
        var groups: [String: ErrorGroup] = [:]
        var perDay: [Int64: Int] = [:]
        var uuids: [String: Set<String>] = [:]
        var anonymous: [String: Int] = [:]
        var after: Int64 = 0
        while true {
            let reports = try store.errorReports(from: from, to: to, after: after, limit: 500)
            for report in reports {
                after = report.id
                perDay[PeriodKind.day.start(of: report.receivedAt), default: 0] += 1
                let message = normalize(report.message ?? "")
                var group = groups[message] ?? ErrorGroup(message: message, installations: 0, reports: 0, versions: [:],
                                                          firstSeen: report.receivedAt, lastSeen: report.receivedAt)
                group.reports += 1
                group.versions[majorMinor(report.version) ?? "unknown", default: 0] += 1
                group.firstSeen = min(group.firstSeen, report.receivedAt)
                group.lastSeen = max(group.lastSeen, report.receivedAt)
                groups[message] = group
                if let uuid = report.uuid, !uuid.isEmpty { uuids[message, default: []].insert(uuid) } else { anonymous[message, default: 0] += 1 }
            }
            if reports.count < 500 { break }
        }
        let sorted = groups.values.map { g in
            var g = g
            g.installations = (uuids[g.message]?.count ?? 0) + (anonymous[g.message] ?? 0)
            return g
        }.sorted { ($0.installations, $0.reports, $1.message) > ($1.installations, $1.reports, $0.message) }
        return (sorted, perDay)
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
