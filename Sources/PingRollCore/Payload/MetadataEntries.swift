/// The metrics a `/usage_ping_metadata` report lists (`metadata.metrics`: `name`,
/// `time_elapsed`, `error`), read once when the report is stored so that instrumentation health
/// reads rows, never the reports' bytes. Lenient: an entry that is not an object or has no
/// string `name` is skipped.
public enum MetadataEntries {
    /// Names kept per report (GitLab lists about two thousand); the rest are left out.
    public static let maxNames = 10_000

    public struct Entry: Sendable, Equatable {
        public var name: String
        /// Any of the name's entries carries an `error` that is not null.
        public var failed: Bool
        /// The largest finite `time_elapsed` (seconds) given for it.
        public var elapsed: Double?

        public init(name: String, failed: Bool, elapsed: Double?) {
            self.name = name
            self.failed = failed
            self.elapsed = elapsed
        }
    }

    /// Each listed metric once, in the order first listed, at most `maxNames`; `truncated` when
    /// names were left out. A body that is not JSON lists nothing.
    public static func parse(_ body: [UInt8], maxDepth: Int = 128) -> (entries: [Entry], truncated: Bool) {
        guard let tree = try? JSONTree.parse(body, maxDepth: maxDepth),
              let list = tree.objectValue?["metadata"]?.objectValue?["metrics"]?.arrayValue else { return ([], false) }
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var truncated = false
        for item in list {
            guard let object = item.objectValue, let name = object["name"]?.stringValue else { continue }
            let failed = object["error"].map { !$0.isNull } ?? false
            let elapsed = object["time_elapsed"]?.numberValue.flatMap { Double($0.text) }.flatMap { $0.isFinite ? $0 : nil }
            if let i = index[name] {
                entries[i].failed = entries[i].failed || failed
                if let t = elapsed { entries[i].elapsed = max(entries[i].elapsed ?? t, t) }
                continue
            }
            guard entries.count < maxNames else { truncated = true; continue }
            index[name] = entries.count
            entries.append(Entry(name: name, failed: failed, elapsed: elapsed))
        }
        return (entries, truncated)
    }
}
