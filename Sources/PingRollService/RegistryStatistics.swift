import Foundation
import PingRollCore

/// The container registry's `GET /gitlab/v1/statistics/` answer (its `import` list), turned
/// into migration runs. Per the registry's API spec (`docs/spec/gitlab/api.md`, "Get registry
/// statistics"): a one-step import is one attempt with `pre_import`, `tag_import` and
/// `blob_import` all true; a three-step import is three attempts, each with one of them true.
/// Attempts are taken in `started_at` order: a pre-import attempt starts a three-step run, and a
/// tag or blob import attempt joins the open run that lacks that phase (or starts one).
public enum RegistryStatistics {
    struct Attempt {
        var id: Int64
        var startedAt: Timestamp
        var finishedAt: Timestamp?
        var storageDriver: String?
        var flags: (pre: Bool, tag: Bool, blob: Bool)
        var repositories: Int64?, tags: Int64?, manifests: Int64?, blobs: Int64?, blobsSizeBytes: Int64?
        var phases: [MigrationRun.PhaseName: (start: Timestamp?, finish: Timestamp?, error: String?)]
    }

    /// The runs the statistics describe, each checked like a run posted by hand.
    public static func runs(from body: [UInt8]) throws(FieldError) -> [MigrationRun] {
        guard let object = (try? JSONTree.parse(body))?.objectValue else {
            throw FieldError("body", "must be the JSON object GET /gitlab/v1/statistics/ answers")
        }
        guard let list = object["import"]?.arrayValue else {
            throw FieldError("import", "is missing: the statistics hold no import attempts (registry v4.25+ with the metadata database reports them)")
        }
        guard list.count <= 10_000 else { throw FieldError("import", "holds more than 10000 attempts") }
        var attempts: [Attempt] = []
        for (k, item) in list.enumerated() {
            attempts.append(try attempt(item, "import[\(k)]"))
        }
        attempts.sort { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
        var runs: [MigrationRun] = []
        var open: (run: MigrationRun, attempts: [Attempt])?
        func close() {
            if let o = open { runs.append(finish(o.run, o.attempts)) }
            open = nil
        }
        for a in attempts {
            if a.flags.pre && a.flags.tag && a.flags.blob {
                close()
                var run = MigrationRun(mode: .oneStep, startedAt: a.startedAt, outcome: .running)
                let errors = [MigrationRun.PhaseName.preImport, .tagImport, .blobImport].compactMap { a.phases[$0]?.error }
                run.phases = [MigrationRun.Phase(name: .import, startedAt: a.startedAt, finishedAt: a.finishedAt,
                                                 error: errors.isEmpty ? nil : errors.joined(separator: "; "))]
                runs.append(finish(run, [a]))
                continue
            }
            let name: MigrationRun.PhaseName = a.flags.pre ? .preImport : a.flags.tag ? .tagImport : .blobImport
            if name == .preImport || open == nil || open!.run.phases.contains(where: { $0.name == name }) {
                close()
                open = (MigrationRun(mode: .threeStep, startedAt: a.startedAt, outcome: .running), [])
            }
            let p = a.phases[name]
            open!.run.phases.append(MigrationRun.Phase(name: name, startedAt: p?.start ?? a.startedAt, finishedAt: p?.finish ?? a.finishedAt, error: p?.error))
            open!.attempts.append(a)
            // A failed phase ends the run: the next attempt is a new try.
            if p?.error != nil || name == .blobImport { close() }
        }
        close()
        for (k, run) in runs.enumerated() {
            do throws(FieldError) { try run.validate() } catch {
                throw FieldError("import (run \(k + 1), attempts \(run.registryImportIDs.map(String.init).joined(separator: ", ")))\(error.field == "body" ? "" : " " + error.field)", error.message)
            }
        }
        return runs
    }

    /// The run's bounds, outcome and figures from its attempts.
    static func finish(_ run: MigrationRun, _ attempts: [Attempt]) -> MigrationRun {
        var run = run
        run.registryImportIDs = attempts.map(\.id)
        run.storageDriver = attempts.compactMap(\.storageDriver).first
        run.startedAt = ([run.startedAt] + run.phases.compactMap(\.startedAt)).min() ?? run.startedAt
        let failed = run.phases.contains { $0.error != nil }
        let complete = run.mode == .oneStep ? run.phases.allSatisfy { $0.finishedAt != nil }
                                            : run.phases.contains { $0.name == .blobImport && $0.finishedAt != nil }
        if failed || complete {
            let ends = run.phases.compactMap(\.finishedAt) + attempts.compactMap(\.finishedAt)
            run.finishedAt = ends.max() ?? run.phases.compactMap(\.startedAt).max() ?? run.startedAt
            run.outcome = failed ? .failed : .succeeded
        }
        // Repositories, tags and manifests count from the tag import; blobs from the blob import.
        let tagAttempt = attempts.first { $0.flags.tag } ?? attempts.first
        run.repositories = tagAttempt?.repositories
        run.tags = tagAttempt?.tags
        run.manifests = tagAttempt?.manifests
        let blobAttempt = attempts.first { $0.flags.blob }
        run.blobs = blobAttempt?.blobs
        run.blobsSizeBytes = blobAttempt?.blobsSizeBytes
        run.registrySizeBytes = blobAttempt?.blobsSizeBytes
        run.notes = "from the registry's import statistics (attempts \(run.registryImportIDs.map(String.init).joined(separator: ", ")))"
        return run
    }

    static func attempt(_ item: JSONTree, _ at: String) throws(FieldError) -> Attempt {
        guard let o = item.objectValue else { throw FieldError(at, "must be an import attempt object") }
        func time(_ key: String, required: Bool = false) throws(FieldError) -> Timestamp? {
            guard let v = o[key], !v.isNull else {
                if required { throw FieldError("\(at).\(key)", "is required") }
                return nil
            }
            guard let s = v.stringValue, let t = Timestamp.parseISO8601(s) else { throw FieldError("\(at).\(key)", "must be an ISO 8601 time") }
            return t
        }
        func int(_ key: String) throws(FieldError) -> Int64? {
            guard let v = o[key], !v.isNull else { return nil }
            guard let i = v.numberValue?.wholeNumber else { throw FieldError("\(at).\(key)", "must be a whole number") }
            return i
        }
        func flag(_ key: String) throws(FieldError) -> Bool {
            guard let b = o[key]?.boolValue else { throw FieldError("\(at).\(key)", "must be true or false") }
            return b
        }
        func text(_ key: String) -> String? { o[key]?.stringValue.flatMap { $0.isEmpty || $0.utf8.contains(0) ? nil : String($0.prefix(2_000)) } }
        // The registry names its S3 driver `s3aws`; the beta program calls it `s3`.
        func driver() -> String? { text("storage_driver").map { $0 == "s3aws" ? "s3" : $0 } }
        guard let id = try int("id") else { throw FieldError("\(at).id", "is required") }
        let flags = (try flag("pre_import"), try flag("tag_import"), try flag("blob_import"))
        guard flags.0 || flags.1 || flags.2 else { throw FieldError(at, "plans no phase (pre_import, tag_import and blob_import are all false)") }
        var phases: [MigrationRun.PhaseName: (start: Timestamp?, finish: Timestamp?, error: String?)] = [:]
        for (name, prefix) in [(MigrationRun.PhaseName.preImport, "pre_import"), (.tagImport, "tag_import"), (.blobImport, "blob_import")] {
            let entry = (try time("\(prefix)_started_at"), try time("\(prefix)_finished_at"), text("\(prefix)_error"))
            if entry.0 != nil || entry.1 != nil || entry.2 != nil { phases[name] = entry }
        }
        return Attempt(id: id, startedAt: try time("started_at", required: true)!, finishedAt: try time("finished_at"), storageDriver: driver(),
                       flags: flags, repositories: try int("repositories_count"), tags: try int("tags_count"), manifests: try int("manifests_count"),
                       blobs: try int("blobs_count"), blobsSizeBytes: try int("blobs_size_bytes"), phases: phases)
    }
}
