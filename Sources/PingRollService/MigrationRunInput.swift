import PingRollCore

/// Reading a run from JSON as the API and the CLI take it: every field checked with a message
/// that names it. `base` is the run a PATCH changes (nil: a new run).
public enum MigrationRunInput {
    public static let fields: Set<String> = ["mode", "started_at", "finished_at", "outcome", "phases", "storage_driver", "registry_size_bytes",
                                              "repositories", "tags", "manifests", "blobs", "blobs_size_bytes", "notes", "issue_url"]

    public static func parse(_ object: JSONObject, base: MigrationRun?) throws(FieldError) -> MigrationRun {
        for key in object.keys.sorted() where !fields.contains(key) {
            throw FieldError(key, "is not a field of a migration run; fields are \(fields.sorted().joined(separator: ", "))")
        }
        func present(_ key: String) -> Bool { object[key] != nil }
        /// Text, or nil for null; "" is nil too where `emptyIsNull`, else refused.
        func text(_ key: String, _ value: JSONTree?, emptyIsNull: Bool = true) throws(FieldError) -> String? {
            guard let value, !value.isNull else { return nil }
            guard let s = value.stringValue, !s.utf8.contains(0) else { throw FieldError(key, "must be text") }
            if s.isEmpty && !emptyIsNull { throw FieldError(key, "must not be empty (send null to leave it out)") }
            return s.isEmpty ? nil : s
        }
        func time(_ key: String, _ value: JSONTree?) throws(FieldError) -> Timestamp? {
            guard let s = try text(key, value, emptyIsNull: false) else { return nil }
            guard let t = Timestamp.parseISO8601(s) else { throw FieldError(key, "must be an ISO 8601 time such as 2025-07-10T16:34:41Z (got \(s.prefix(60)))") }
            return t
        }
        func count(_ key: String) throws(FieldError) -> Int64? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let i = value.numberValue?.wholeNumber else { throw FieldError(key, "must be a whole number") }
            return i
        }
        var run = base ?? MigrationRun(mode: .oneStep, startedAt: .now(), outcome: .running)
        if present("mode") || base == nil {
            guard let s = try text("mode", object["mode"], emptyIsNull: false), let mode = MigrationRun.Mode(rawValue: s) else {
                throw FieldError("mode", "must be one_step or three_step")
            }
            run.mode = mode
        }
        if present("started_at") || base == nil {
            guard let t = try time("started_at", object["started_at"]) else { throw FieldError("started_at", "is required") }
            run.startedAt = t
        }
        if present("finished_at") { run.finishedAt = try time("finished_at", object["finished_at"]) }
        if present("outcome") || base == nil {
            let s = try text("outcome", object["outcome"], emptyIsNull: false) ?? (run.finishedAt == nil ? "running" : "")
            guard let outcome = MigrationRun.Outcome(rawValue: s) else { throw FieldError("outcome", "must be running, succeeded, failed or aborted") }
            run.outcome = outcome
        }
        if present("phases") {
            guard let list = object["phases"]?.arrayValue else { throw FieldError("phases", "must be a list of {name, started_at, finished_at, error}") }
            guard list.count <= 10 else { throw FieldError("phases", "a run has at most three phases") }
            var phases: [MigrationRun.Phase] = []
            for (k, item) in list.enumerated() {
                guard let p = item.objectValue else { throw FieldError("phases[\(k)]", "must be an object {name, started_at, finished_at, error}") }
                for key in p.keys.sorted() where !["name", "started_at", "finished_at", "error"].contains(key) {
                    throw FieldError("phases[\(k)].\(key)", "is not a field of a phase (name, started_at, finished_at, error)")
                }
                guard let s = try text("phases[\(k)].name", p["name"], emptyIsNull: false), let name = MigrationRun.PhaseName(rawValue: s) else {
                    throw FieldError("phases[\(k)].name", "must be pre_import, tag_import, blob_import or import")
                }
                phases.append(MigrationRun.Phase(name: name, startedAt: try time("phases[\(k)].started_at", p["started_at"]),
                                                 finishedAt: try time("phases[\(k)].finished_at", p["finished_at"]),
                                                 error: try text("phases[\(k)].error", p["error"])))
            }
            run.phases = phases
        }
        if present("storage_driver") { run.storageDriver = try text("storage_driver", object["storage_driver"], emptyIsNull: false) }
        if present("registry_size_bytes") { run.registrySizeBytes = try count("registry_size_bytes") }
        if present("repositories") { run.repositories = try count("repositories") }
        if present("tags") { run.tags = try count("tags") }
        if present("manifests") { run.manifests = try count("manifests") }
        if present("blobs") { run.blobs = try count("blobs") }
        if present("blobs_size_bytes") { run.blobsSizeBytes = try count("blobs_size_bytes") }
        if present("notes") { run.notes = try text("notes", object["notes"]) }
        if present("issue_url") { run.issueURL = try text("issue_url", object["issue_url"], emptyIsNull: false) }
        try run.validate()
        return run
    }

}
