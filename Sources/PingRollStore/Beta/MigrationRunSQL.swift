import Foundation
import PingRollCore

/// An enrollment's migration runs (see `MigrationRun`).
public protocol MigrationRunStoring: AnyObject, Sendable {
    /// Stores new runs of enrollment `enrollmentID` in one transaction, each change in the
    /// enrollment's history; a run whose registry import ids are already stored is skipped.
    /// Stores the runs not stored yet (one whose registry import ids are known is skipped), in
    /// short transactions; `progress` hears how many of `runs` are done. Answers the runs stored,
    /// with their ids.
    func createRuns(_ runs: [MigrationRun], enrollmentID: Int64, program: String, by token: String,
                    progress: (@Sendable (Int) -> Void)?, stop: (@Sendable () -> Bool)?) throws(StorageError) -> [MigrationRun]
    /// The enrollment's runs, by started_at (then id).
    func runs(enrollmentID: Int64) throws(StorageError) -> [MigrationRun]
    /// Every run of the program's enrollments, by started_at (then id).
    func runs(program: String) throws(StorageError) -> [MigrationRun]
    /// Applies `change` to run `id` of the enrollment in one transaction, recording each changed
    /// field; nil when there is no such run.
    func updateRun(id: Int64, enrollmentID: Int64, by token: String,
                   _ change: @Sendable (MigrationRun) throws(FieldError) -> MigrationRun) throws(StorageError) -> Result<MigrationRun, FieldError>?
}

extension MigrationRunStoring {
    public func createRuns(_ runs: [MigrationRun], enrollmentID: Int64, program: String, by token: String) throws(StorageError) -> [MigrationRun] {
        try createRuns(runs, enrollmentID: enrollmentID, program: program, by: token, progress: nil, stop: nil)
    }
}

enum MigrationRunSQL {
    static let columns = ColumnList(["id", "enrollment_id", "data", "created_at", "updated_at"])

    static func encode(_ run: MigrationRun) throws(StorageError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(run) else { throw StorageError(.other, operation: "storing a migration run", reason: "the run does not encode") }
        return String(decoding: data, as: UTF8.self)
    }

    static func run(_ r: NamedRow) throws(StorageError) -> MigrationRun {
        let op = "reading a migration run"
        guard var run = try? JSONDecoder().decode(MigrationRun.self, from: Data(try r.requiredString("data").utf8)) else {
            throw StorageError(.corrupt, operation: op, reason: "a stored migration run does not decode")
        }
        run.id = try r.requiredInt64("id")
        run.enrollmentID = try r.requiredInt64("enrollment_id")
        run.createdAt = Timestamp(milliseconds: try r.requiredInt64("created_at"))
        run.updatedAt = Timestamp(milliseconds: try r.requiredInt64("updated_at"))
        return run
    }

    static func select(_ e: any SQLExecutor, _ condition: String, _ parameters: [SQLValue]) throws(StorageError) -> [MigrationRun] {
        try columns.select(e, "FROM beta_migration_runs WHERE \(condition) ORDER BY started_at, id", parameters, operation: "reading migration runs")
            .map { r throws(StorageError) in try run(r) }
    }

    /// The history lines of a change, field by field (nothing for an unchanged run).
    static func changes(_ old: MigrationRun, _ new: MigrationRun) -> [(field: String, old: String?, new: String?)] {
        func text<T>(_ v: T?) -> String? { v.map { "\($0)" } }
        let pairs: [(String, String?, String?)] = [
            ("mode", old.mode.rawValue, new.mode.rawValue), ("started_at", old.startedAt.description, new.startedAt.description),
            ("finished_at", text(old.finishedAt), text(new.finishedAt)), ("outcome", old.outcome.rawValue, new.outcome.rawValue),
            ("phases", phaseText(old.phases), phaseText(new.phases)), ("storage_driver", old.storageDriver, new.storageDriver),
            ("registry_size_bytes", text(old.registrySizeBytes), text(new.registrySizeBytes)), ("repositories", text(old.repositories), text(new.repositories)),
            ("tags", text(old.tags), text(new.tags)), ("manifests", text(old.manifests), text(new.manifests)), ("blobs", text(old.blobs), text(new.blobs)),
            ("blobs_size_bytes", text(old.blobsSizeBytes), text(new.blobsSizeBytes)), ("notes", old.notes, new.notes), ("issue_url", old.issueURL, new.issueURL),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { ("migration_run \(new.id) \($0.0)", $0.1, $0.2) }
    }

    static func phaseText(_ phases: [MigrationRun.Phase]) -> String {
        phases.map { p in "\(p.name.rawValue) \(p.startedAt.map { "\($0)" } ?? "?")–\(p.finishedAt.map { "\($0)" } ?? "?")" + (p.error.map { " error: \($0)" } ?? "") }
            .joined(separator: "; ")
    }
}

extension SQLBackedStore {
    /// Stores the runs not stored yet (a run whose registry import ids are known is skipped),
    /// in paced transactions of about 100 ms of the writer each. The known ids are read once
    /// at the start: uploads of statistics run one at a time on the job lane.
    public func createRuns(_ runs: [MigrationRun], enrollmentID: Int64, program: String, by token: String,
                           progress: (@Sendable (Int) -> Void)?, stop: (@Sendable () -> Bool)?) throws(StorageError) -> [MigrationRun] {
        let op = "storing migration runs"
        var known = Set(try read { e throws(StorageError) in
            try MigrationRunSQL.select(e, "enrollment_id = $1", [.integer(enrollmentID)]).flatMap(\.registryImportIDs)
        })
        var stored: [MigrationRun] = []
        var pacing = WriterPacing(initial: 32, maxSize: 10_000, contended: otherWritersActive)
        var next = 0
        while next < runs.count {
            if stop?() == true { break }  // between transactions; the same upload again adds the rest
            let start = next
            let before = known
            let step: ([MigrationRun], Set<Int64>, end: Int) = try pacing.step { (size: Int) throws(StorageError) -> (([MigrationRun], Set<Int64>, end: Int), units: Int) in
                try writeTransaction(op) { (e: any SQLExecutor) throws(StorageError) -> (([MigrationRun], Set<Int64>, end: Int), units: Int) in
                    var added: [MigrationRun] = []
                    var seen = before
                    let now = Timestamp.now()
                    let end = min(runs.count, start + size)
                    for var run in runs[start..<end] {
                        // Also within one upload: the same attempts listed twice make one run.
                        if !run.registryImportIDs.isEmpty && run.registryImportIDs.contains(where: seen.contains) { continue }
                        seen.formUnion(run.registryImportIDs)
                        run.enrollmentID = enrollmentID
                        run.createdAt = now
                        run.updatedAt = now
                        run.id = try e.scalarInt64("""
                            INSERT INTO beta_migration_runs (enrollment_id, program, started_at, data, created_at, updated_at)
                            VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                            """, [.integer(enrollmentID), .text(program), .integer(run.startedAt.milliseconds), .text(try MigrationRunSQL.encode(run)),
                                  .integer(now.milliseconds), .integer(now.milliseconds)], operation: "storing a migration run")
                        try BetaSQL.history(e, enrollmentID, by: token, at: now, field: "migration_run \(run.id)", old: nil, new: run.summary)
                        added.append(run)
                    }
                    return ((added, seen, end), end - start)
                }
            }
            // Only a committed transaction's ids count as known.
            stored += step.0
            known = step.1
            next = step.end
            progress?(next)
        }
        return stored
    }

    public func runs(enrollmentID: Int64) throws(StorageError) -> [MigrationRun] {
        try read { e throws(StorageError) in try MigrationRunSQL.select(e, "enrollment_id = $1", [.integer(enrollmentID)]) }
    }

    public func runs(program: String) throws(StorageError) -> [MigrationRun] {
        try read { e throws(StorageError) in try MigrationRunSQL.select(e, "program = $1", [.text(program)]) }
    }

    public func updateRun(id: Int64, enrollmentID: Int64, by token: String,
                          _ change: @Sendable (MigrationRun) throws(FieldError) -> MigrationRun) throws(StorageError) -> Result<MigrationRun, FieldError>? {
        try writeTransaction("changing a migration run") { e throws(StorageError) -> Result<MigrationRun, FieldError>? in
            guard let old = try MigrationRunSQL.select(e, "id = $1 AND enrollment_id = $2", [.integer(id), .integer(enrollmentID)]).first else { return nil }
            var new: MigrationRun
            do throws(FieldError) { new = try change(old) } catch { return .failure(error) }
            new.id = old.id
            new.enrollmentID = old.enrollmentID
            new.createdAt = old.createdAt
            new.registryImportIDs = old.registryImportIDs
            let changes = MigrationRunSQL.changes(old, new)
            guard !changes.isEmpty else { return .success(old) }
            let now = Timestamp.now()
            new.updatedAt = now
            try e.query("UPDATE beta_migration_runs SET started_at = $2, data = $3, updated_at = $4 WHERE id = $1",
                        [.integer(id), .integer(new.startedAt.milliseconds), .text(try MigrationRunSQL.encode(new)), .integer(now.milliseconds)],
                        operation: "changing a migration run")
            for c in changes { try BetaSQL.history(e, enrollmentID, by: token, at: now, field: c.field, old: c.old, new: c.new) }
            return .success(new)
        }
    }
}
