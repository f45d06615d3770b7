import PingRollCore
import PingRollStore

/// Beta program work shared by the API and the CLI: live facts, enrollment JSON, cohort export
/// and CSV import.
public enum BetaOperations {
    /// Every enrollment of the program, a page at a time.
    public static func forEachEnrollment(_ store: any BetaStoring, _ program: String,
                                  _ body: (Enrollment) throws(StorageError) -> Void) throws(StorageError) {
        var after: Int64 = 0
        while true {
            let page = try store.enrollments(program: program, after: after, limit: 1000)
            for x in page { try body(x) }
            guard let last = page.last, page.count == 1000 else { return }
            after = last.id
        }
    }
    /// The live facts of an enrollment's installation (its latest ping), read now; nil without uuid or pings.
    public static func liveFacts(_ store: any BetaStoring & PingReading, _ x: Enrollment) throws(StorageError) -> InstallationRecord? {
        guard let uuid = x.uuid else { return nil }
        return try store.installations(uuid: uuid).filter { x.hostname == nil || $0.key.hostname == x.hostname }
            .max { ($0.lastRecordedAt?.milliseconds ?? 0) < ($1.lastRecordedAt?.milliseconds ?? 0) }
    }

    public enum Format: String, Sendable { case csv, json }

    /// A cohort export produced a page of enrollments at a time: call `next()` until it returns nil.
    /// Memory stays bounded by one page, whatever the number of rows.
    public final class CohortExport: @unchecked Sendable {
        // Used by one thread at a time (the server connection's, or the CLI's).
        let store: any BetaStoring & PingReading
        let program: String
        let filter: CohortFilter
        let format: Format
        let now: Timestamp
        var after: Int64 = 0
        public private(set) var rows = 0
        var started = false
        var finished = false
        public private(set) var failure: StorageError?

        public init(store: any BetaStoring & PingReading, program: String, filter: CohortFilter, format: Format, now: Timestamp = .now()) {
            self.store = store
            self.program = program
            self.filter = filter
            self.format = format
            self.now = now
        }

        public func next() -> [UInt8]? {
            guard !finished else { return nil }
            // JSON is streamed as `{"program":"...","enrollments":[...],"count":N}`, each enrollment
            // encoded by `EnrollmentBody`; only the envelope is written here.
            var out: [UInt8] = []
            do {
                if !started {
                    started = true
                    out += format == .csv ? Array(EnrollmentCSV.header.utf8)
                        : Array(#"{"program":"#.utf8) + (try APIJSON.encode(program)) + Array(#","enrollments":["#.utf8)
                }
                let page = try store.enrollments(program: program, after: after, limit: 500)
                for x in page {
                    let facts = try BetaOperations.liveFacts(store, x)
                    guard filter.matches(x, dbEnabled: facts?.dbEnabled, lastPingAt: facts?.lastRecordedAt, now: now) else { continue }
                    switch format {
                    case .csv: out += Array(EnrollmentCSV.row(x, lastPingAt: facts?.lastRecordedAt, dbEnabled: facts?.dbEnabled).utf8)
                    case .json:
                        if rows > 0 { out.append(UInt8(ascii: ",")) }
                        out += try APIJSON.encode(EnrollmentBody(x, facts: facts))
                    }
                    rows += 1
                }
                if let last = page.last, page.count == 500 {
                    after = last.id
                } else {
                    finished = true
                    if format == .json { out += Array("],\"count\":\(rows)}".utf8) }
                }
            } catch let error as StorageError {
                failure = error
                finished = true
            } catch {
                failure = StorageError(.other, operation: "exporting a cohort", reason: "\(error)")
                finished = true
            }
            return out
        }
    }

    public struct RowError: Sendable, Equatable {
        public var row: Int
        public var column: String
        public var reason: String
    }

    public struct ImportReport: Sendable, Equatable {
        public var created = 0
        public var updated = 0
        /// The first `maxListedProblems` problems; `problemCount` and `invalidRows` count all.
        public private(set) var errors: [RowError] = []
        public private(set) var problemCount = 0
        public private(set) var invalidRows = 0
        /// False when invalid rows stopped the import before anything was applied.
        public var applied = true
        /// Set when the import was stopped (cancelled) before all of it was written; the same
        /// import run again completes it.
        public var stopped = false

        /// How many problems an answer lists: its size does not grow with a hostile file's.
        public static let maxListedProblems = 100

        public var hasProblems: Bool { problemCount > 0 }

        /// Counts a problem (rows are reported in order, so a row's problems are adjacent).
        mutating func add(_ problem: RowError) {
            if problem.row != lastRow { invalidRows += 1; lastRow = problem.row }
            problemCount += 1
            if errors.count < Self.maxListedProblems { errors.append(problem) }
        }

        private var lastRow = -1

        /// "2 invalid rows (3 problems)": rows and problems counted apart, in words.
        public var invalidSummary: String {
            let listed = problemCount > errors.count ? "; the first \(errors.count) are listed" : ""
            return "\(invalidRows) invalid \(invalidRows == 1 ? "row" : "rows") (\(problemCount) \(problemCount == 1 ? "problem" : "problems")\(listed))"
        }
    }

    public enum ImportFailure: Error, Sendable {
        case csv(String)
        case storage(StorageError)
    }

    /// Creates (rows without id) or updates (rows with id) enrollments from CSV with the export's
    /// columns. Every row is checked first; with any invalid row nothing is applied unless `partial`.
    ///
    /// The writes run in paced transactions (see `WriterPacing`) and are idempotent: the same
    /// CSV imported again into the same program after an interruption completes it without
    /// creating any row twice. `stop` ends it between transactions (`ImportReport.stopped`).
    public static func importCSV(_ store: any BetaStoring & PingReading, program: String, csv: String, partial: Bool,
                                 by token: String, progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil,
                                 stop: (@Sendable () -> Bool)? = nil) throws(ImportFailure) -> ImportReport {
        var reader = CSV.Reader(csv)
        let first: [String]?
        do { first = try reader.next() } catch { throw .csv(error.description) }
        guard let header = first else { throw .csv("the CSV has no header row") }
        var seen = Set<String>()
        for column in header where !seen.insert(column).inserted {
            throw .csv("column `\(column)` is given twice in the header; each column once")
        }
        let readOnly: Set<String> = ["program", "created_at", "updated_at", "last_ping_at", "db_enabled"]
        // A program run elsewhere comes in with its real dates: `created_at` and `<status>_at`.
        let dated = Dictionary(uniqueKeysWithValues: EnrollmentStatus.allCases.map { ("\($0.rawValue)_at", $0) })
        for column in header where column != "id" && !readOnly.contains(column) && !Enrollment.fields.contains(column) && dated[column] == nil {
            throw .csv("column `\(column)` is not an enrollment field (\(EnrollmentCSV.columns.joined(separator: ", ")), or a date: created_at, \(dated.keys.sorted().joined(separator: ", ")))")
        }
        let now = Timestamp.now()
        var report = ImportReport()
        var planned: [(row: Int, enrollment: Enrollment, inputs: [String: FieldInput], isNew: Bool, path: [(EnrollmentStatus, Timestamp)])] = []
        var csvProblem: String?
        importing: do throws(StorageError) {
            var rowNumber = 1
            while true {
                let next: [String]?
                do throws(QueryError) { next = try reader.next() } catch { csvProblem = error.description; break importing }
                guard let cells = next else { break }
                rowNumber += 1
                if cells.count == 1 && cells[0].isEmpty { continue }
                guard cells.count == header.count else {
                    report.add(RowError(row: rowNumber, column: "", reason: "has \(cells.count) cells, the header has \(header.count)"))
                    continue
                }
                var inputs: [String: FieldInput] = [:]
                var id: Int64?
                var badID = false
                var createdAt: Timestamp?
                var dates: [(EnrollmentStatus, Timestamp)] = []
                var dateProblems: [RowError] = []
                for (column, cell) in zip(header, cells) {
                    let value = EnrollmentCSV.restore(cell)
                    if column == "id" { id = value.isEmpty ? nil : Int64(value); badID = !value.isEmpty && id == nil; continue }
                    if column == "created_at" || dated[column] != nil {
                        guard !value.isEmpty else { continue }
                        guard let at = Timestamp.parseISO8601(value) ?? days(isoDate: value).map({ Timestamp(milliseconds: $0 * 86_400_000) }) else {
                            dateProblems.append(RowError(row: rowNumber, column: column, reason: "must be a date (YYYY-MM-DD) or an ISO 8601 time"))
                            continue
                        }
                        guard at <= now else { dateProblems.append(RowError(row: rowNumber, column: column, reason: "is in the future")); continue }
                        if column == "created_at" { createdAt = at } else { dates.append((dated[column]!, at)) }
                        continue
                    }
                    if readOnly.contains(column) { continue }
                    inputs[column] = value.isEmpty ? .null : .text(value)
                }
                if !dateProblems.isEmpty { dateProblems.forEach { report.add($0) }; continue }
                if badID { report.add(RowError(row: rowNumber, column: "id", reason: "must be a number")); continue }
                var existing: Enrollment?
                if let id {
                    existing = try store.enrollment(id: id)
                    guard existing?.program == program else {
                        report.add(RowError(row: rowNumber, column: "id", reason: "there is no enrollment \(id) in \(program)"))
                        continue
                    }
                }
                let creating = existing == nil
                var x = existing ?? Enrollment(program: program, organization: "", contactName: "", contactEmail: "")
                // The status path the dates describe, oldest first; the `status` column, if any, must be its end.
                dates.sort { $0.1 < $1.1 }
                var path: [(EnrollmentStatus, Timestamp)] = []
                if creating && !dates.isEmpty {
                    let start = createdAt ?? dates[0].1
                    if let early = dates.first(where: { $0.1 < start }) {
                        report.add(RowError(row: rowNumber, column: "\(early.0.rawValue)_at", reason: "is before created_at"))
                        continue
                    }
                    path = (dates.first?.0 == .interested ? [] : [(EnrollmentStatus.interested, start)]) + dates
                    if case .text(let given)? = inputs["status"], given != path.last!.0.rawValue {
                        report.add(RowError(row: rowNumber, column: "status", reason: "is \(given), but the latest dated status is \(path.last!.0.rawValue) (\(path.last!.0.rawValue)_at)"))
                        continue
                    }
                    // The enrollment is checked as it starts; the dated path is history.
                    inputs["status"] = .text(path[0].0.rawValue)
                    if let blocked = path.lastIndex(where: { $0.0 == .blocked }), blocked == path.count - 1, blocked > 0 { x.blockedFrom = path[blocked - 1].0 }
                }
                if creating && (inputs["status"] == nil || inputs["status"] == .null) { inputs["status"] = .text("interested") }
                let before = x
                do throws(EnrollmentError) {
                    _ = try x.apply(inputs, creating: creating)
                    if creating { x.createdAt = createdAt ?? path.first?.1 ?? now }
                    planned.append((rowNumber, x, inputs, creating, path))
                } catch {
                    // Every problem of the row, so one round of fixes is enough.
                    for problem in before.problems(inputs, creating: creating) {
                        report.add(RowError(row: rowNumber, column: problem.field, reason: problem.message))
                    }
                }
            }
            if report.hasProblems && !partial {
                report.applied = false
                return report
            }
            var plan = EnrollmentImportPlan(key: Digest.sha256Hex(Array(program.utf8) + [0] + Array(csv.utf8)), token: token)
            for p in planned {
                if p.isNew {
                    var x = p.enrollment
                    x.updatedAt = now
                    plan.creations.append(.init(row: p.row, enrollment: x, statusPath: p.path))
                } else {
                    plan.updates.append(.init(row: p.row, id: p.enrollment.id, inputs: p.inputs))
                }
            }
            let total = plan.creations.count + plan.updates.count
            progress?(0, total)
            var rows: (@Sendable (Int) -> Void)?
            if let progress { rows = { done in progress(done, total) } }
            let outcome = try store.importEnrollments(plan, progress: rows, stop: stop)
            report.created = outcome.created
            report.updated = outcome.updated
            report.stopped = outcome.stopped
            for (row, e) in outcome.failures { report.add(RowError(row: row, column: e.field, reason: e.message)) }
        } catch {
            throw .storage(error)
        }
        if let csvProblem { throw .csv(csvProblem) }
        return report
    }
}
