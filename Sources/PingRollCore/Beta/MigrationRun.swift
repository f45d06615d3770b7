import FoundationEssentials

/// One import attempt of an enrollment's registry into the metadata database.
public struct MigrationRun: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        case oneStep = "one_step", threeStep = "three_step"
    }

    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case running, succeeded, failed, aborted
    }

    /// `pre_import`, `tag_import`, `blob_import` (three-step) or `import` (one-step). The
    /// read-only (downtime) window is `tag_import`, or the whole one-step `import`.
    public enum PhaseName: String, Sendable, Codable, CaseIterable {
        case preImport = "pre_import", tagImport = "tag_import", blobImport = "blob_import", `import`

        public static func allowed(for mode: Mode) -> [PhaseName] {
            mode == .oneStep ? [.import] : [.preImport, .tagImport, .blobImport]
        }
    }

    public struct Phase: Sendable, Equatable, Codable {
        public var name: PhaseName
        public var startedAt: Timestamp?
        public var finishedAt: Timestamp?
        public var error: String?

        public init(name: PhaseName, startedAt: Timestamp?, finishedAt: Timestamp?, error: String? = nil) {
            self.name = name
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.error = error
        }

        /// Seconds from start to finish, when both are known.
        public var seconds: Double? {
            guard let s = startedAt, let f = finishedAt else { return nil }
            return Double(f.milliseconds - s.milliseconds) / 1000
        }
    }

    public var id: Int64 = 0
    public var enrollmentID: Int64 = 0
    public var mode: Mode
    public var startedAt: Timestamp
    public var finishedAt: Timestamp?
    public var outcome: Outcome
    public var phases: [Phase] = []
    public var storageDriver: String?
    public var registrySizeBytes: Int64?
    public var repositories: Int64?
    public var tags: Int64?
    public var manifests: Int64?
    public var blobs: Int64?
    public var blobsSizeBytes: Int64?
    public var notes: String?
    public var issueURL: String?
    /// The registry's import attempt ids this run was made from (`from-registry-statistics`),
    /// so an upload of the same statistics again adds nothing.
    public var registryImportIDs: [Int64] = []
    public var createdAt: Timestamp = .now()
    public var updatedAt: Timestamp = .now()

    public init(mode: Mode, startedAt: Timestamp, outcome: Outcome) {
        self.mode = mode
        self.startedAt = startedAt
        self.outcome = outcome
    }

    /// Seconds from start to finish; nil while running.
    public var totalSeconds: Double? { finishedAt.map { Double($0.milliseconds - startedAt.milliseconds) / 1000 } }

    /// The read-only window: the tag import phase, or the whole one-step import.
    public var downtimeSeconds: Double? {
        phases.first { $0.name == (mode == .oneStep ? .import : .tagImport) }?.seconds ?? (mode == .oneStep && phases.isEmpty ? totalSeconds : nil)
    }

    /// The size the throughput is measured by: the registry size, else the blobs' size.
    public var sizeBytes: Int64? { registrySizeBytes ?? blobsSizeBytes }

    /// Every rule a run must keep, checked before it is stored (the first broken one is thrown).
    public func validate() throws(FieldError) {
        let allowed = PhaseName.allowed(for: mode)
        var seen = Set<PhaseName>()
        for (k, p) in phases.enumerated() {
            guard allowed.contains(p.name) else {
                throw FieldError("phases[\(k)].name", "a \(mode.rawValue) run has the phases \(allowed.map(\.rawValue).joined(separator: ", ")); not \(p.name.rawValue)")
            }
            guard seen.insert(p.name).inserted else { throw FieldError("phases[\(k)].name", "\(p.name.rawValue) is listed twice") }
            if let s = p.startedAt, let f = p.finishedAt, f < s {
                throw FieldError("phases[\(k)].finished_at", "is before the phase's started_at")
            }
            if p.finishedAt != nil && p.startedAt == nil { throw FieldError("phases[\(k)].started_at", "is required when finished_at is given") }
            if let s = p.startedAt, s < startedAt { throw FieldError("phases[\(k)].started_at", "is before the run's started_at") }
            if let f = p.finishedAt, let end = finishedAt, end < f { throw FieldError("phases[\(k)].finished_at", "is after the run's finished_at") }
            if let e = p.error, e.count > 2_000 { throw FieldError("phases[\(k)].error", "is longer than 2000 characters") }
        }
        // Three-step phases run in order: pre-import, then tags, then blobs.
        let ordered = phases.compactMap { p in p.startedAt.map { (allowed.firstIndex(of: p.name) ?? 0, $0) } }
        for a in ordered { for b in ordered where a.0 < b.0 && b.1 < a.1 {
            throw FieldError("phases", "\(allowed[b.0].rawValue) starts before \(allowed[a.0].rawValue); three-step phases run pre_import, tag_import, blob_import")
        } }
        if let f = finishedAt, f < startedAt { throw FieldError("finished_at", "is before started_at") }
        switch outcome {
        case .running:
            if finishedAt != nil { throw FieldError("finished_at", "a running run has not finished; give the outcome too") }
        case .succeeded:
            if finishedAt == nil { throw FieldError("finished_at", "is required for a succeeded run") }
            if let bad = phases.firstIndex(where: { $0.error != nil }) { throw FieldError("phases[\(bad)].error", "a succeeded run has no phase with an error") }
        case .failed, .aborted:
            if finishedAt == nil { throw FieldError("finished_at", "is required for a \(outcome.rawValue) run") }
        }
        for (name, value) in [("registry_size_bytes", registrySizeBytes), ("repositories", repositories), ("tags", tags), ("manifests", manifests),
                              ("blobs", blobs), ("blobs_size_bytes", blobsSizeBytes)] {
            if let value, value < 0 { throw FieldError(name, "must not be negative (got \(value))") }
        }
        if let d = storageDriver, !BetaValidation.storageDrivers.contains(d) {
            throw FieldError("storage_driver", "must be one of \(BetaValidation.storageDrivers.joined(separator: ", ")) (got \(d))")
        }
        if let n = notes, n.count > 10_000 { throw FieldError("notes", "is longer than 10000 characters") }
        if let u = issueURL {
            guard u.count <= 2_000, u.hasPrefix("https://") || u.hasPrefix("http://"), !u.contains(" ") else {
                throw FieldError("issue_url", "must be an http(s) URL")
            }
        }
    }

    /// A one-line account for the enrollment's history.
    public var summary: String {
        "\(mode.rawValue), \(outcome.rawValue), started \(startedAt)" + (finishedAt.map { ", finished \($0)" } ?? "")
    }
}

/// Stored as milliseconds since the epoch.
extension Timestamp: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(milliseconds: try decoder.singleValueContainer().decode(Int64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(milliseconds)
    }
}
