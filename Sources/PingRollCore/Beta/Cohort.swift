/// A cohort: a filter over a program's enrollments. Filters combine with AND; a filter's
/// comma-separated values combine with OR. `installation_type` and `storage_driver` filter on
/// what the enrollment records; `db_enabled` and `last_ping_within_days` on the live facts.
public struct CohortFilter: Sendable, Equatable {
    /// What a cohort's `db_enabled` filter matches: the live fact, or that there is none.
    public enum LiveDBFact: String, Sendable, CaseIterable, Comparable {
        case `true`, `false`, unknown

        public init(_ live: Bool?) { self = live.map { $0 ? .true : .false } ?? .unknown }

        public static func < (a: LiveDBFact, b: LiveDBFact) -> Bool { a.rawValue < b.rawValue }
    }

    public var status: Set<EnrollmentStatus> = []
    public var phase: Set<String> = []
    public var installationType: Set<String> = []
    public var storageDriver: Set<String> = []
    public var dbEnabled: Set<LiveDBFact> = []
    public var minRegistryBytes: Int64?
    public var maxRegistryBytes: Int64?
    public var lastPingWithinDays: Int?

    /// The accepted range of `last_ping_within_days` (a century).
    public static let lastPingDaysRange = 0...36_500

    public static let parameters = ["status", "phase", "installation_type", "storage_driver", "db_enabled",
                                    "min_registry_bytes", "max_registry_bytes", "last_ping_within_days"]

    public init() {}

    /// Parses query arguments (or a saved cohort's text, which has the same form); other names are ignored.
    public static func parse(_ arguments: [(String, String)]) throws(QueryError) -> CohortFilter {
        var f = CohortFilter()
        // Split on the byte ",": a Character split would miss a comma that a combining mark
        // follows, and the filter would not read back as it was saved.
        func list(_ v: String) -> Set<String> {
            Set(v.splitting(atASCII: UInt8(ascii: ",")).map { $0.trimmingASCIIWhitespace() }.filter { !$0.isEmpty })
        }
        for (name, value) in arguments {
            switch name {
            case "status":
                f.status = []
                for s in list(value) {
                    guard let status = EnrollmentStatus(rawValue: s) else { throw QueryError(name, "`\(s)` is not a status") }
                    f.status.insert(status)
                }
            case "phase": f.phase = list(value)
            case "installation_type": f.installationType = list(value)
            case "storage_driver":
                f.storageDriver = list(value)
                for d in f.storageDriver where !BetaValidation.storageDrivers.contains(d) { throw QueryError(name, "`\(d)` is not a storage driver") }
            case "db_enabled":
                f.dbEnabled = []
                for d in list(value) {
                    guard let fact = LiveDBFact(rawValue: d) else { throw QueryError(name, "must be true, false or unknown") }
                    f.dbEnabled.insert(fact)
                }
            case "min_registry_bytes", "max_registry_bytes":
                guard let bytes = BetaValidation.parseSize(value) else { throw QueryError(name, "must be bytes or a size like 500GB") }
                if name == "min_registry_bytes" { f.minRegistryBytes = bytes } else { f.maxRegistryBytes = bytes }
            case "last_ping_within_days":
                guard let days = Int(value.trimmingASCIIWhitespace()), lastPingDaysRange.contains(days) else {
                    throw QueryError(name, "must be a whole number of days from \(lastPingDaysRange.lowerBound) to \(lastPingDaysRange.upperBound)")
                }
                f.lastPingWithinDays = days
            default: continue
            }
        }
        return f
    }

    /// The filter as query text (`status=enrolled,importing&...`), the form saved cohorts keep.
    public var queryText: [(String, String)] {
        var out: [(String, String)] = []
        for (name, set) in [("status", Set(status.map(\.rawValue))), ("phase", phase), ("installation_type", installationType),
                            ("storage_driver", storageDriver), ("db_enabled", Set(dbEnabled.map(\.rawValue)))] where !set.isEmpty {
            out.append((name, set.sorted().joined(separator: ",")))
        }
        if let v = minRegistryBytes { out.append(("min_registry_bytes", String(v))) }
        if let v = maxRegistryBytes { out.append(("max_registry_bytes", String(v))) }
        if let v = lastPingWithinDays { out.append(("last_ping_within_days", String(v))) }
        return out
    }

    /// Whether an enrollment belongs to the cohort, given its live facts.
    public func matches(_ x: Enrollment, dbEnabled live: Bool?, lastPingAt: Timestamp?, now: Timestamp) -> Bool {
        if !status.isEmpty && !status.contains(x.status) { return false }
        if !phase.isEmpty && !phase.contains(x.phase ?? "") { return false }
        if !installationType.isEmpty && !installationType.contains(x.installationType ?? "") { return false }
        if !storageDriver.isEmpty && !storageDriver.contains(x.storageDriver ?? "") { return false }
        if !dbEnabled.isEmpty && !dbEnabled.contains(LiveDBFact(live)) { return false }
        if let min = minRegistryBytes, (x.registrySizeBytes ?? -1) < min { return false }
        if let max = maxRegistryBytes, x.registrySizeBytes.map({ $0 > max }) ?? true { return false }
        if let days = lastPingWithinDays {
            // `days` is within lastPingDaysRange (parse checks it), so the product fits; the
            // difference of two stored instants is checked all the same.
            let (age, overflow) = now.milliseconds.subtractingReportingOverflow(lastPingAt?.milliseconds ?? 0)
            guard lastPingAt != nil, !overflow, age <= Int64(min(max(days, 0), Self.lastPingDaysRange.upperBound)) * 86_400_000 else { return false }
        }
        return true
    }
}

/// Enrollment rows as CSV, in the documented column order, and back.
public enum EnrollmentCSV {
    public static let columns = ["id", "program"] + Enrollment.fields + ["created_at", "updated_at", "last_ping_at", "db_enabled"]

    public static var header: String { columns.joined(separator: ",") + "\r\n" }

    public static func row(_ x: Enrollment, lastPingAt: Timestamp?, dbEnabled: Bool?) -> String {
        let values = [String(x.id), x.program] + Enrollment.fields.map { x.text(of: $0) ?? "" }
            + [x.createdAt.description, x.updatedAt.description, lastPingAt?.description ?? "", dbEnabled.map { "\($0)" } ?? ""]
        return values.map(CSV.field).joined(separator: ",") + "\r\n"
    }

    /// Undoes the formula neutralisation of an exported cell.
    public static func restore(_ cell: String) -> String {
        guard cell.count >= 2, cell.first == "'", let second = cell.dropFirst().first, "=+-@\t\r".contains(second) else { return cell }
        return String(cell.dropFirst())
    }
}

extension CSV {
    /// Parses RFC 4180 text (CRLF or LF line ends, quoted fields with doubled quotes) into rows.
    public static func parse(_ text: String) throws(QueryError) -> [[String]] {
        var reader = Reader(text)
        var rows: [[String]] = []
        while let row = try reader.next() { rows.append(row) }
        return rows
    }

    /// RFC 4180 rows one at a time, so that what a caller keeps need not grow with the text.
    public struct Reader {
        private var chars: String.UnicodeScalarView.Iterator
        private var pending: Unicode.Scalar?
        private var lineNumber = 1
        private var done = false

        public init(_ text: String) { chars = text.unicodeScalars.makeIterator() }

        /// The next row, nil at the end; linear in the text read.
        public mutating func next() throws(QueryError) -> [String]? {
            guard !done else { return nil }
            var row: [String] = [], field = ""
            var inQuotes = false, afterQuote = false
            while let c = pending ?? chars.next() {
                pending = nil
                if inQuotes {
                    if c == "\"" {
                        if let n = chars.next() {
                            if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = n }
                        } else { inQuotes = false; afterQuote = true }
                    } else {
                        if c == "\n" { lineNumber += 1 }
                        field.unicodeScalars.append(c)
                    }
                    continue
                }
                switch c {
                case "\"":
                    guard field.isEmpty, !afterQuote else { throw QueryError("csv", "line \(lineNumber): a quote inside an unquoted field") }
                    inQuotes = true
                case ",": row.append(field); field = ""; afterQuote = false
                case "\r": continue
                case "\n":
                    row.append(field)
                    lineNumber += 1
                    return row
                default:
                    guard !afterQuote else { throw QueryError("csv", "line \(lineNumber): text after a closing quote") }
                    field.unicodeScalars.append(c)
                }
            }
            done = true
            guard !inQuotes else { throw QueryError("csv", "line \(lineNumber): an unterminated quoted field") }
            if !field.isEmpty || !row.isEmpty { row.append(field); return row }
            return nil
        }
    }
}
