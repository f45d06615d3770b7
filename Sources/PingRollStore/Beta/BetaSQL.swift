import PingRollCore



/// Beta program storage with shared SQL.
enum BetaSQL {
    static func createProgram(_ e: any SQLExecutor, _ p: BetaProgram) throws(StorageError) {
        let op = "creating a beta program"
        guard try e.query("SELECT 1 FROM beta_programs WHERE slug = $1", [.text(p.slug)], operation: op).isEmpty else {
            throw StorageError(.constraint, operation: op, reason: "a program with slug \(p.slug) exists")
        }
        try e.query("INSERT INTO beta_programs (slug, name, description, phases, created_at) VALUES ($1, $2, $3, $4, $5)",
                    [.text(p.slug), .text(p.name), SQLValue(p.description), .text(p.phases.joined(separator: "\n")),
                     .integer(p.createdAt.milliseconds)], operation: op)
    }

    static func programs(_ e: any SQLExecutor, slug: String? = nil) throws(StorageError) -> [BetaProgram] {
        let op = "reading beta programs"
        let columns = ColumnList(["slug", "name", "description", "phases", "created_at"])
        let rows = try e.query("SELECT \(columns.selectList) FROM beta_programs" + (slug == nil ? " ORDER BY slug" : " WHERE slug = $1"),
                               slug.map { [.text($0)] } ?? [], operation: op)
        return try rows.map { values throws(StorageError) in
            let r = columns.row(values, op)
            return BetaProgram(slug: try r.requiredString("slug"), name: try r.requiredString("name"), description: try r.string("description"),
                               phases: try r.requiredString("phases").splitting(atASCII: UInt8(ascii: "\n")),
                               createdAt: Timestamp(milliseconds: try r.requiredInt64("created_at")))
        }
    }

    /// `beta_enrollments`, in one list: SELECT, INSERT and UPDATE are built from it and rows
    /// are read by these names. The editable fields are `EnrollmentField`'s.
    static let enrollmentColumns = ColumnList(["id", "program"] + EnrollmentField.allCases.map(\.rawValue)
                                              + ["blocked_from", "created_at", "updated_at"])

    /// The columns an INSERT or UPDATE writes (all but `id`).
    static var writtenColumns: ArraySlice<String> { enrollmentColumns.names.dropFirst() }

    /// The values of `writtenColumns`, in their order.
    static func values(_ x: Enrollment) -> [SQLValue] {
        [.text(x.program)] + EnrollmentField.allCases.map { value(x, $0) }
            + [SQLValue(x.blockedFrom?.rawValue), .integer(x.createdAt.milliseconds), .integer(x.updatedAt.milliseconds)]
    }

    /// A field's column value: its typed value (`Enrollment.value(of:)`, exhaustive over the
    /// fields) as SQL; booleans are stored as 0 and 1.
    static func value(_ x: Enrollment, _ field: EnrollmentField) -> SQLValue {
        switch x.value(of: field) {
        case .null: .null
        case .bool(let b): SQLValue(b)
        case .integer(let i): .integer(i)
        case .text(let t): .text(t)
        }
    }

    static func enrollment(_ values: SQLRow) throws(StorageError) -> Enrollment {
        let r = enrollmentColumns.row(values, "reading an enrollment")
        var x = Enrollment(program: try r.requiredString("program"), organization: try r.requiredString("organization"),
                           contactName: try r.requiredString("contact_name"), contactEmail: try r.requiredString("contact_email"))
        x.id = try r.requiredInt64("id")
        x.uuid = try r.string("uuid"); x.hostname = try r.string("hostname"); x.installationType = try r.string("installation_type")
        x.registrySizeBytes = try r.int64("registry_size_bytes"); x.storageDriver = try r.string("storage_driver")
        x.phase = try r.string("phase")
        let status = try r.requiredString("status")
        guard let parsed = EnrollmentStatus(rawValue: status) else {
            throw StorageError(.corrupt, operation: "reading an enrollment", reason: "enrollment \(x.id) has the unknown status \(status)")
        }
        x.status = parsed
        x.blockedFrom = try r.string("blocked_from").flatMap(EnrollmentStatus.init); x.notes = try r.string("notes")
        x.geoEnabled = try r.bool("geo_enabled"); x.databaseSetup = try r.string("database_setup")
        x.registryNodes = try r.int64("registry_nodes"); x.taggedImages = try r.int64("tagged_images")
        x.importMode = try r.string("import_mode"); x.backupTaken = try r.bool("backup_taken")
        x.offlineGCDisabled = try r.bool("offline_gc_disabled"); x.motivation = try r.string("motivation")
        x.createdAt = Timestamp(milliseconds: try r.requiredInt64("created_at"))
        x.updatedAt = Timestamp(milliseconds: try r.requiredInt64("updated_at"))
        return x
    }

    static func insert(_ e: any SQLExecutor, _ x: Enrollment, by token: String) throws(StorageError) -> Int64 {
        let placeholders = (1...writtenColumns.count).map { "$\($0)" }.joined(separator: ", ")
        let id = try e.scalarInt64("INSERT INTO beta_enrollments (\(writtenColumns.joined(separator: ", "))) VALUES (\(placeholders)) RETURNING id",
                                   values(x), operation: "creating an enrollment")
        for field in Enrollment.fields {
            if let value = x.text(of: field) { try history(e, id, by: token, at: x.createdAt, field: field, old: nil, new: value) }
        }
        return id
    }

    /// Stores `x` with the status path it already went through (an import of a program run
    /// elsewhere): first with the path's first status at `createdAt`, then each later status is
    /// recorded at its time, and the enrollment ends in the last one.
    static func insert(_ e: any SQLExecutor, _ x: Enrollment, statusPath path: [(EnrollmentStatus, Timestamp)], by token: String) throws(StorageError) -> Int64 {
        guard let first = path.first else { return try insert(e, x, by: token) }
        var start = x
        start.status = first.0
        start.blockedFrom = nil
        let id = try insert(e, start, by: token)
        var previous = first.0
        for (status, at) in path.dropFirst() {
            try history(e, id, by: token, at: at, field: "status", old: previous.rawValue, new: status.rawValue)
            previous = status
        }
        try e.query("UPDATE beta_enrollments SET status = $2, blocked_from = $3, updated_at = $4 WHERE id = $1",
                    [.integer(id), .text(previous.rawValue), SQLValue(x.blockedFrom?.rawValue), .integer(x.updatedAt.milliseconds)],
                    operation: "creating an enrollment")
        return id
    }

    static func update(_ e: any SQLExecutor, _ x: Enrollment, changes: [(field: String, old: String?, new: String?)], by token: String) throws(StorageError) {
        let assignments = writtenColumns.enumerated().map { "\($1) = $\($0 + 2)" }
        try e.query("UPDATE beta_enrollments SET \(assignments.joined(separator: ", ")) WHERE id = $1",
                    [.integer(x.id)] + values(x), operation: "updating an enrollment")
        for c in changes { try history(e, x.id, by: token, at: x.updatedAt, field: c.field, old: c.old, new: c.new) }
    }

    static func history(_ e: any SQLExecutor, _ id: Int64, by token: String, at: Timestamp, field: String, old: String?, new: String?) throws(StorageError) {
        try e.query("INSERT INTO beta_history (enrollment_id, at, token_name, field, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)",
                    [.integer(id), .integer(at.milliseconds), .text(token), .text(field), SQLValue(old), SQLValue(new)], operation: "recording history")
    }

    static func enrollments(_ e: any SQLExecutor, program: String, after: Int64, limit: Int) throws(StorageError) -> [Enrollment] {
        try e.query("SELECT \(enrollmentColumns.selectList) FROM beta_enrollments WHERE program = $1 AND id > $2 ORDER BY id LIMIT $3",
                    [.text(program), .integer(after), .integer(Int64(limit))], operation: "reading enrollments").map { r throws(StorageError) in try enrollment(r) }
    }

    static func enrollment(_ e: any SQLExecutor, id: Int64) throws(StorageError) -> Enrollment? {
        try e.query("SELECT \(enrollmentColumns.selectList) FROM beta_enrollments WHERE id = $1", [.integer(id)],
                    operation: "reading an enrollment").first.map { r throws(StorageError) in try enrollment(r) }
    }

    static func historyOf(_ e: any SQLExecutor, id: Int64) throws(StorageError) -> [HistoryEntry] {
        let op = "reading history"
        let columns = ColumnList(["at", "token_name", "field", "old_value", "new_value"])
        return try e.query("SELECT \(columns.selectList) FROM beta_history WHERE enrollment_id = $1 ORDER BY id", [.integer(id)], operation: op)
            .map { values throws(StorageError) in
                let r = columns.row(values, op)
                return HistoryEntry(at: Timestamp(milliseconds: try r.requiredInt64("at")), tokenName: try r.requiredString("token_name"),
                                    field: try r.requiredString("field"), old: try r.string("old_value"), new: try r.string("new_value"))
            }
    }
}

extension SQLBackedStore {
    public func createProgram(_ p: BetaProgram) throws(StorageError) {
        try writeTransaction("creating a beta program") { e throws(StorageError) in try BetaSQL.createProgram(e, p) }
    }

    public func programs() throws(StorageError) -> [BetaProgram] {
        try read { e throws(StorageError) in try BetaSQL.programs(e) }
    }

    public func program(slug: String) throws(StorageError) -> BetaProgram? {
        try read { e throws(StorageError) in try BetaSQL.programs(e, slug: slug).first }
    }

    public func createEnrollment(_ x: Enrollment, by token: String) throws(StorageError) -> Int64 {
        try writeTransaction("creating an enrollment") { e throws(StorageError) in try BetaSQL.insert(e, x, by: token) }
    }

    public func createEnrollments(_ xs: [Enrollment], by token: String) throws(StorageError) -> [Int64] {
        try createEnrollments(xs.map { ($0, []) }, by: token)
    }

    /// Creates enrollments with the status path they already went through (an import of a
    /// program run elsewhere): each is stored with its path's first status at `createdAt`, then
    /// each later status is recorded at its time, and the enrollment ends in the last one.
    public func createEnrollments(_ xs: [(Enrollment, statusPath: [(EnrollmentStatus, Timestamp)])], by token: String) throws(StorageError) -> [Int64] {
        try writeTransaction("creating enrollments") { e throws(StorageError) in
            var ids: [Int64] = []
            for (x, path) in xs { ids.append(try BetaSQL.insert(e, x, statusPath: path, by: token)) }
            return ids
        }
    }

    /// Applies an import's plan in paced transactions (about 100 ms of the writer each), so
    /// pings are stored between them. Idempotent under the plan's key: a row an earlier run of
    /// the same import created (cut short by a crash or a cancel) is found and not created
    /// again, and an update that changes nothing records nothing.
    public func importEnrollments(_ plan: EnrollmentImportPlan, progress: (@Sendable (Int) -> Void)?,
                                  stop: (@Sendable () -> Bool)?) throws(StorageError) -> EnrollmentImportOutcome {
        let op = "importing enrollments"
        var outcome = EnrollmentImportOutcome()
        var pacing = WriterPacing(initial: 32, maxSize: 10_000, contended: otherWritersActive)
        let total = plan.creations.count + plan.updates.count
        var next = 0
        while next < total {
            if stop?() == true { outcome.stopped = true; break }
            let start = next
            let delta = try pacing.step { size throws(StorageError) in
                try writeTransaction(op) { e throws(StorageError) -> (EnrollmentImportOutcome, units: Int) in
                    var delta = EnrollmentImportOutcome()
                    let end = min(total, start + size)
                    for i in start..<end {
                        if i < plan.creations.count {
                            let c = plan.creations[i]
                            if try e.optionalScalarInt64("SELECT id FROM beta_enrollments WHERE import_key = $1 AND import_row = $2",
                                                         [.text(plan.key), .integer(Int64(c.row))], operation: op) == nil {
                                let id = try BetaSQL.insert(e, c.enrollment, statusPath: c.statusPath, by: plan.token)
                                try e.query("UPDATE beta_enrollments SET import_key = $2, import_row = $3 WHERE id = $1",
                                            [.integer(id), .text(plan.key), .integer(Int64(c.row))], operation: op)
                            }
                            delta.created += 1
                        } else {
                            let u = plan.updates[i - plan.creations.count]
                            guard var x = try BetaSQL.enrollment(e, id: u.id) else {
                                delta.failures.append((u.row, EnrollmentError("id", "there is no enrollment \(u.id)")))
                                continue
                            }
                            let changes: [(field: String, old: String?, new: String?)]
                            do throws(EnrollmentError) { changes = try x.apply(u.inputs) } catch {
                                delta.failures.append((u.row, error))
                                continue
                            }
                            if !changes.isEmpty {
                                x.updatedAt = .now()
                                try BetaSQL.update(e, x, changes: changes, by: plan.token)
                            }
                            delta.updated += 1
                        }
                    }
                    return (delta, end - start)
                }
            }
            outcome.created += delta.created
            outcome.updated += delta.updated
            outcome.failures += delta.failures
            next = start + delta.created + delta.updated + delta.failures.count
            progress?(next)
        }
        outcome.longestHold = pacing.longest
        return outcome
    }

    /// Reads the enrollment, applies `change` in the same transaction, stores it with its history.
    public func updateEnrollment(id: Int64, by token: String,
                                 _ change: @Sendable (inout Enrollment) throws(EnrollmentError) -> [(field: String, old: String?, new: String?)]) throws(StorageError) -> Result<Enrollment, EnrollmentError>? {
        try writeTransaction("updating an enrollment") { e throws(StorageError) -> Result<Enrollment, EnrollmentError>? in
            guard var x = try BetaSQL.enrollment(e, id: id) else { return nil }
            let changes: [(field: String, old: String?, new: String?)]
            do throws(EnrollmentError) { changes = try change(&x) } catch { return .failure(error) }
            guard !changes.isEmpty else { return .success(x) }
            x.updatedAt = .now()
            try BetaSQL.update(e, x, changes: changes, by: token)
            return .success(x)
        }
    }

    public func enrollments(program: String, after: Int64, limit: Int) throws(StorageError) -> [Enrollment] {
        try read { e throws(StorageError) in try BetaSQL.enrollments(e, program: program, after: after, limit: limit) }
    }

    public func enrollment(id: Int64) throws(StorageError) -> Enrollment? {
        try read { e throws(StorageError) in try BetaSQL.enrollment(e, id: id) }
    }

    public func enrollmentHistory(id: Int64) throws(StorageError) -> [HistoryEntry] {
        try read { e throws(StorageError) in try BetaSQL.historyOf(e, id: id) }
    }
}


enum FeedbackSQL {
    static func insert(_ e: any SQLExecutor, _ f: Feedback) throws(StorageError) -> Int64 {
        try e.scalarInt64("""
            INSERT INTO beta_feedback (enrollment_id, program, category, rating, text, issue_url, at, token_name)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
            """, [.integer(f.enrollmentID), .text(f.program), .text(f.category), .integer(Int64(f.rating)), .text(f.text),
                  SQLValue(f.issueURL), .integer(f.at.milliseconds), .text(f.tokenName)], operation: "storing feedback")
    }

    static let columns = ColumnList(["id", "enrollment_id", "program", "category", "rating", "text", "issue_url", "at", "token_name"])

    static func list(_ e: any SQLExecutor, program: String) throws(StorageError) -> [Feedback] {
        try columns.select(e, "FROM beta_feedback WHERE program = $1 ORDER BY at, id", [.text(program)], operation: "reading feedback").map { r throws(StorageError) in
            // Ratings are 1...5 when stored; clamp what a damaged row holds rather than trap.
            let rating = try r.requiredInt64("rating")
            var f = Feedback(enrollmentID: try r.requiredInt64("enrollment_id"), program: try r.requiredString("program"),
                             category: try r.requiredString("category"), rating: Int(clamping: rating), text: try r.requiredString("text"),
                             issueURL: try r.string("issue_url"), at: Timestamp(milliseconds: try r.requiredInt64("at")),
                             tokenName: try r.requiredString("token_name"))
            f.id = try r.requiredInt64("id")
            return f
        }
    }
}

extension SQLBackedStore {
    public func addFeedback(_ f: Feedback) throws(StorageError) -> Int64 {
        try writeTransaction("storing feedback") { e throws(StorageError) in try FeedbackSQL.insert(e, f) }
    }

    public func feedback(program: String) throws(StorageError) -> [Feedback] {
        try read { e throws(StorageError) in try FeedbackSQL.list(e, program: program) }
    }
}

enum CohortSQL {
    static func save(_ e: any SQLExecutor, program: String, name: String, filter: [(String, String)]) throws(StorageError) {
        try e.query("""
            INSERT INTO beta_cohorts (program, name, filter, updated_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (program, name) DO UPDATE SET filter = excluded.filter, updated_at = excluded.updated_at
            """, [.text(program), .text(name), .text(SavedFilterText.encode(filter)), .integer(Timestamp.now().milliseconds)],
            operation: "saving a cohort")
    }

    static func load(_ e: any SQLExecutor, program: String, name: String) throws(StorageError) -> [(String, String)]? {
        let op = "reading a cohort"
        guard let r = try ColumnList(["filter"]).select(e, "FROM beta_cohorts WHERE program = $1 AND name = $2", [.text(program), .text(name)],
                                                        operation: op).first else { return nil }
        let text = try r.requiredString("filter")
        return SavedFilterText.decode(text)
    }
}

/// How a saved cohort's filter is stored: a version line `#2`, then one `name<TAB>value` line per
/// argument with `%`, tab, CR and LF in names and values percent-escaped, so any value comes back
/// exactly as saved. Text without the version line is the first form (unescaped lines).
enum SavedFilterText {
    static let versionLine = "#2"

    static func encode(_ filter: [(String, String)]) -> String {
        ([versionLine] + filter.map { escape($0.0) + "\t" + escape($0.1) }).joined(separator: "\n")
    }

    static func decode(_ text: String) -> [(String, String)] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let escaped = lines.first == Substring(versionLine)
        if escaped { lines.removeFirst() }
        return lines.compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            return escaped ? (unescape(parts[0]), unescape(parts[1])) : (String(parts[0]), String(parts[1]))
        }
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "\t": out += "%09"
            case "\n": out += "%0A"
            case "\r": out += "%0D"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescape(_ s: Substring) -> String {
        var out = ""
        var rest = s.unicodeScalars[...]
        while let c = rest.popFirst() {
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            let code = String(String.UnicodeScalarView(rest.prefix(2)))
            switch code {
            case "25": out += "%"
            case "09": out += "\t"
            case "0A": out += "\n"
            case "0D": out += "\r"
            default: out += "%"; continue
            }
            rest = rest.dropFirst(2)
        }
        return out
    }
}

extension SQLBackedStore {
    public func saveCohort(program: String, name: String, filter: [(String, String)]) throws(StorageError) {
        try writeTransaction("saving a cohort") { e throws(StorageError) in try CohortSQL.save(e, program: program, name: name, filter: filter) }
    }

    public func cohort(program: String, name: String) throws(StorageError) -> [(String, String)]? {
        try read { e throws(StorageError) in try CohortSQL.load(e, program: program, name: name) }
    }
}


extension SQLBackedStore {
    public func pingDBFacts(uuid: String) throws(StorageError) -> [PingDBFact] {
        try read { e throws(StorageError) in
            let columns = ColumnList([("hostname", "i.hostname"), ("recorded_at", "p.recorded_at"), ("observations", "p.observations")])
            return try columns.select(e, "FROM pings p JOIN installations i ON i.id = p.installation_id WHERE i.uuid = $1 ORDER BY p.recorded_at",
                                      [.text(uuid)], operation: "reading an installation's pings").map { r throws(StorageError) in
                var db: Bool?
                // NULL: stored before observations were kept (migration 2) and not rebuilt since.
                if case .bool(let b)? = ObservationCodec.decode(try r.string("observations") ?? "")["container_registry_server.db_enabled"] { db = b }
                return PingDBFact(hostname: try r.requiredString("hostname"), recordedAt: Timestamp(milliseconds: try r.requiredInt64("recorded_at")), dbEnabled: db)
            }
        }
    }
}

/// What an enrollment import writes, every row already checked (`BetaOperations.importCSV`).
public struct EnrollmentImportPlan: Sendable {
    public struct Creation: Sendable {
        public var row: Int
        public var enrollment: Enrollment
        public var statusPath: [(EnrollmentStatus, Timestamp)]
        public init(row: Int, enrollment: Enrollment, statusPath: [(EnrollmentStatus, Timestamp)]) {
            self.row = row
            self.enrollment = enrollment
            self.statusPath = statusPath
        }
    }

    public struct Update: Sendable {
        public var row: Int
        public var id: Int64
        public var inputs: [String: FieldInput]
        public init(row: Int, id: Int64, inputs: [String: FieldInput]) {
            self.row = row
            self.id = id
            self.inputs = inputs
        }
    }

    /// Names this import (its program and exact bytes): the same import run again finds the rows it created.
    public var key: String
    public var token: String
    public var creations: [Creation] = []
    public var updates: [Update] = []

    public init(key: String, token: String) {
        self.key = key
        self.token = token
    }
}

public struct EnrollmentImportOutcome: Sendable {
    public var created = 0
    public var updated = 0
    /// Updates the stored enrollment refused (it changed since the import was checked).
    public var failures: [(row: Int, error: EnrollmentError)] = []
    /// Set when `stop` ended the import early; running it again completes it.
    public var stopped = false
    /// The longest of its transactions (each sized to about 100 ms of the writer).
    public var longestHold: Duration = .zero
}
