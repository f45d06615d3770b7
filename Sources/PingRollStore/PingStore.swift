import PingRollCore

/// A durable store of pings and everything pingroll derives from them: the union of the small
/// protocols below, each one area a caller can depend on alone.
///
/// Every implementation guarantees:
/// - `write` applies all its items in one transaction and returns only after that transaction is
///   durable (it survives `kill -9` and power loss), or throws and leaves nothing of the batch;
///   outcomes come back in the order of the items.
/// - A ping whose installation and `recorded_at` are already stored is not stored again: its
///   outcome is `.duplicate` with the id of the stored one, also across processes sharing the store.
/// - Errors are `StorageError`s whose text holds no SQL and no values.
/// - It is safe to call from any thread; `close` is called once, after the last call.
public protocol PingStore: StoreLifecycle, PingWriting, PingReading, RollupStoring, TokenStoring, BetaStoring, PayloadStoring,
                           RetentionStoring, PullStatusStoring, CellMembersReading, ClientReportReading, InstallationHistoryReading, MigrationRunStoring,
                           JobStoring, AnnotationStoring, FleetReading, SubscriptionStoring {}

/// The stored form of payloads.
public protocol PayloadStoring: AnyObject, Sendable {
    /// Rewrites pings stored whole (`zstd`) into the skeleton-and-values form, `batch` pings per
    /// short transaction, so a serving pingroll keeps writing in between. Idempotent; a ping
    /// that does not split keeps its form.
    func recompressPayloads(batch: Int, progress: (@Sendable (PayloadRecompression) -> Void)?) throws(StorageError) -> PayloadRecompression
}

/// What `recompressPayloads` did so far.
public struct PayloadRecompression: Sendable, Equatable {
    public var rewritten = 0
    /// Pings left whole because they do not split (they still read).
    public var kept = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0

    public init() {}
}

/// Opening, migrating, health and closing.
public protocol StoreLifecycle: AnyObject, Sendable {
    /// Applies pending migrations; returns the ones applied now.
    @discardableResult
    func migrate() throws(StorageError) -> [MigrationState]

    /// Every known migration, applied or pending.
    func migrationStatus() throws(StorageError) -> [MigrationState]

    /// Throws when the store cannot serve reads and writes right now.
    func checkReadiness() throws(StorageError)

    /// Row counts of the main tables.
    func statistics() throws(StorageError) -> StoreStatistics

    /// What `/metrics` reports of the database, each figure cheap to read (no scan of the pings).
    func operationalStatistics() throws(StorageError) -> OperationalStatistics

    /// Releases connections. The store must not be used afterwards.
    func close()
}

/// Durable writes of pings, quarantine entries and client reports.
public protocol PingWriting: AnyObject, Sendable {
    /// Writes `items` in one durable transaction.
    func write(_ items: [WriteItem]) throws(StorageError) -> [WriteOutcome]

    /// The quarantine's cap in stored bytes; past it the oldest entries are dropped (and counted).
    var quarantineMaxBytes: Int64 { get }

    /// Records that a quarantined body was reprocessed into the ping `pingID`.
    func markRetried(quarantineID: Int64, pingID: Int64) throws(StorageError)
}

/// Reading back what was stored: pings, quarantine, installations, ingest health.
public protocol PingReading: AnyObject, Sendable {
    /// A stored ping with its decompressed payload, or nil.
    func ping(id: Int64) throws(StorageError) -> StoredPing?

    /// Quarantined bodies, newest first.
    func quarantine(limit: Int) throws(StorageError) -> [StoredQuarantineEntry]

    /// One quarantine entry, or nil.
    func quarantineEntry(id: Int64) throws(StorageError) -> StoredQuarantineEntry?

    /// Installations in id order after `after`, with their latest facts.
    func installations(after: Int64, limit: Int) throws(StorageError) -> [InstallationRecord]

    /// The installations (one per hostname) of a uuid.
    func installations(uuid: String) throws(StorageError) -> [InstallationRecord]

    /// Pings accepted, duplicates and rejections per day of receipt (days inclusive), and the quarantine size.
    func ingestHealth(fromDay: Int64, toDay: Int64) throws(StorageError) -> IngestHealth

    /// Every ping of a uuid (all hostnames), oldest first, with its db_enabled reading.
    func pingDBFacts(uuid: String) throws(StorageError) -> [PingDBFact]
}

/// The rollups: their state, queries, rebuild and verify.
public protocol RollupStoring: AnyObject, Sendable {
    /// The metric catalog rollups are maintained for; nil when the store keeps no rollups.
    var catalog: MetricCatalog? { get }

    /// Registers the catalog's metrics as built while no pings are stored; returns the metrics
    /// that are stale (new or changed while pings exist) and need `rebuildRollups`, led by
    /// `(installations)` when the dimension tuples changed and only a full rebuild fixes them.
    func prepareRollups() throws(StorageError) -> [String]

    /// Recomputes rollups from the stored raw payloads, for some metrics or (nil) everything,
    /// online: in write transactions of about `chunkPings` pings each (whole installations),
    /// with write batches going on between them. Continues a rebuild of the same metrics that
    /// an earlier run left unfinished. `progress` gets the pings read so far after every
    /// transaction; when `stop` then answers true the run ends there (`stopped` in the report),
    /// and the next run continues from that point.
    func rebuildRollups(metrics: [String]?, chunkPings: Int, progress: (@Sendable (Int) -> Void)?,
                        stop: (@Sendable () -> Bool)?) throws(StorageError) -> RollupRebuildReport

    /// Recomputes the rollups from the raw payloads in a scratch area and compares them with the live ones.
    func verifyRollups(progress: (@Sendable (Int) -> Void)?) throws(StorageError) -> RollupVerification

    /// Live rollup cells (all, or of some metrics; `""` is the installation counts), zero cells left out.
    func rollupCells(metrics: [String]?) throws(StorageError) -> [CellKey: CellValue]

    /// A series query answered from the rollups, filtered and summed by the database.
    func series(_ query: SeriesQuery) throws(StorageError) -> [SeriesGroup]

    /// Serves with another catalog from now on and prepares the rollups for it; returns the
    /// stale metrics (as `prepareRollups`).
    func replaceCatalog(_ catalog: MetricCatalog) throws(StorageError) -> [String]
}

/// API tokens: only hashes are stored.
public protocol TokenStoring: AnyObject, Sendable {
    /// Creates an API token; the returned value is the only time its secret is known.
    func createToken(name: String, role: Role) throws(StorageError) -> BearerToken

    /// Every token ever created, revoked ones included; no secrets.
    func tokens() throws(StorageError) -> [TokenInfo]

    /// Revokes the active token named `name`; false when there is none.
    func revokeToken(name: String) throws(StorageError) -> Bool

    /// The active token a bearer token proves, or nil (unknown, revoked or wrong secret).
    func authenticate(_ token: BearerToken) throws(StorageError) -> TokenInfo?
}

/// The beta program's records (see BetaSQL).
public protocol BetaStoring: AnyObject, Sendable {
    /// Stores a new program; a slug that exists is a `.constraint` error, and nothing changes.
    func createProgram(_ p: BetaProgram) throws(StorageError)
    /// Every program, ordered by slug.
    func programs() throws(StorageError) -> [BetaProgram]
    /// The program with this slug, or nil.
    func program(slug: String) throws(StorageError) -> BetaProgram?
    /// Stores a new enrollment with a history entry for each field set (by `token`), in one
    /// transaction; answers its id (ids only grow).
    func createEnrollment(_ x: Enrollment, by token: String) throws(StorageError) -> Int64
    /// Creates all of them in one transaction (all or none).
    func createEnrollments(_ xs: [Enrollment], by token: String) throws(StorageError) -> [Int64]
    /// Creates them with the status path each already went through (see `BetaSQL`), in one transaction.
    func createEnrollments(_ xs: [(Enrollment, statusPath: [(EnrollmentStatus, Timestamp)])], by token: String) throws(StorageError) -> [Int64]
    /// Applies an import's plan in short transactions, idempotently (see `SQLBackedStore.importEnrollments`).
    func importEnrollments(_ plan: EnrollmentImportPlan, progress: (@Sendable (Int) -> Void)?,
                           stop: (@Sendable () -> Bool)?) throws(StorageError) -> EnrollmentImportOutcome
    /// Applies `change` to the stored enrollment in one transaction and records each changed field;
    /// nil when there is no such enrollment.
    func updateEnrollment(id: Int64, by token: String,
                          _ change: @Sendable (inout Enrollment) throws(EnrollmentError) -> [(field: String, old: String?, new: String?)]) throws(StorageError) -> Result<Enrollment, EnrollmentError>?
    /// The program's enrollments with an id above `after`, in id order, at most `limit` (a page;
    /// the next page starts after the last id).
    func enrollments(program: String, after: Int64, limit: Int) throws(StorageError) -> [Enrollment]
    /// The enrollment with this id, whatever its program, or nil.
    func enrollment(id: Int64) throws(StorageError) -> Enrollment?
    /// Every recorded change of the enrollment, in the order recorded.
    func enrollmentHistory(id: Int64) throws(StorageError) -> [HistoryEntry]
    /// Stores feedback of an existing enrollment; answers its id.
    func addFeedback(_ f: Feedback) throws(StorageError) -> Int64
    /// The program's feedback, oldest first.
    func feedback(program: String) throws(StorageError) -> [Feedback]
    /// Saves (or replaces) a named cohort filter, kept as query arguments.
    func saveCohort(program: String, name: String, filter: [(String, String)]) throws(StorageError)
    /// A saved cohort filter's query arguments in the order saved, or nil.
    func cohort(program: String, name: String) throws(StorageError) -> [(String, String)]?
}

/// A ping as read back from the store.
public struct StoredPing: Sendable, Equatable {
    public var id: Int64
    public var installation: InstallationKey
    public var recordedAt: Timestamp
    public var receivedAt: Timestamp
    public var version: String?
    public var edition: String?
    public var tier: String?
    public var installationType: String?
    public var registryEnabled: Bool?
    public var registryVendor: String?
    public var dbEnabled: Bool?
    /// The raw payload bytes exactly as posted (after any gzip transfer encoding was removed);
    /// empty when retention dropped them.
    public var payload: [UInt8]
    /// Set when retention dropped the raw payload (the facts and observations are kept).
    public var payloadDropped = false
}

public struct StoredQuarantineEntry: Sendable, Equatable {
    public var id: Int64
    public var record: QuarantineRecord
}

public struct StoreStatistics: Sendable, Equatable {
    public var pings: Int64
    public var installations: Int64
    public var quarantined: Int64
    public var pingErrors: Int64
    public var pingMetadata: Int64
}

extension RollupStoring {
    /// About 0.1–0.2 s of work per transaction on this machine kind: a write batch waits at most that.
    public static var defaultRebuildChunkPings: Int { 2_000 }

    public func rebuildRollups(metrics: [String]?, progress: (@Sendable (Int) -> Void)?) throws(StorageError) -> RollupRebuildReport {
        try rebuildRollups(metrics: metrics, chunkPings: Self.defaultRebuildChunkPings, progress: progress, stop: nil)
    }
}
