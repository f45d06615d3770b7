import Logging
import PingRollCore
import PingRollStore
import Synchronization

/// The use cases the HTTP routes call: the only way the upper half reaches storage. Each
/// service holds what it needs and no more; routes hold the services.
public final class PingRollServices: Sendable {
    public let ingest: IngestService
    public let query: QueryService
    public let beta: BetaService
    public let admin: AdminService
    public let annotations: AnnotationService
    /// Subscriptions, the digest and their deliveries.
    public let notify: NotifyService
    /// The job lane (long operations started over HTTP).
    public let jobs: Jobs

    public init(store: any PingStore, committer: GroupCommitter, limits: IngestLimits = IngestLimits(), logger: Logger,
                retention: RetentionSchedule? = nil, notify settings: NotifySettings = NotifySettings()) {
        ingest = IngestService(store: store, committer: committer, limits: limits)
        query = QueryService(store: store)
        notify = NotifyService(store: store, query: query, secrets: settings.secrets, dashboards: settings.dashboards, mail: settings.mail,
                               publicURL: settings.publicURL)
        beta = BetaService(store: store)
        annotations = AnnotationService(store: store)
        admin = AdminService(store: store, retention: retention ?? RetentionSchedule(policy: nil, store: store))
        jobs = Jobs(store: store, logger: logger, resume: { [store] job in
            // A rebuild continues from its cursor; the other kinds are failed as interrupted.
            job.kind == .rollupRebuild ? JobWork.rebuild(store, metrics: job.subject.isEmpty ? nil : [job.subject], resuming: true) : nil
        })
    }

    /// The catalog in use: the store's (which a reload replaces).
    public var catalog: MetricCatalog? { query.catalog }

    /// Serves with `catalog` from now on: the store takes it (and prepares its rollups), then
    /// the ingest path. Answers the metrics left stale (new or changed while pings exist).
    public func useCatalog(_ catalog: MetricCatalog) throws(StorageError) -> [String] {
        let stale = try admin.replaceCatalog(catalog)
        ingest.use(catalog)
        return stale
    }
}

/// How subscriptions are delivered: the key that seals webhook secrets, the SMTP server, the
/// dashboards a digest covers, the address of the dashboards.
public struct NotifySettings: Sendable {
    public var secrets: SecretBox?
    public var mail: MailSettings?
    public var publicURL: String?
    public var dashboards: @Sendable () -> [Dashboard]

    public init(secrets: SecretBox? = nil, mail: MailSettings? = nil, publicURL: String? = nil, dashboards: @escaping @Sendable () -> [Dashboard] = { [] }) {
        self.secrets = secrets
        self.mail = mail
        self.publicURL = publicURL
        self.dashboards = dashboards
    }
}

/// What the ingest lane needs: intake (validation against the catalog), the group committer,
/// and the store's health.
public final class IngestService: Sendable {
    let store: any PingStore
    let committer: GroupCommitter
    public let limits: IngestLimits
    private let intakeHolder: Mutex<PingIntake>

    init(store: any PingStore, committer: GroupCommitter, limits: IngestLimits) {
        self.store = store
        self.committer = committer
        self.limits = limits
        intakeHolder = Mutex(PingIntake(catalog: store.catalog, limits: limits))
    }

    /// The ingest path made with the catalog in use (replaced by a catalog reload).
    public var intake: PingIntake { intakeHolder.withLock { $0 } }

    /// What became of a ping.
    public enum PingOutcome: Sendable {
        case stored(id: Int64, duplicate: Bool, installation: String)
        /// Intake refused it (not stored; the caller quarantines the body).
        case refused(PingIntake.Refusal)
        case failed(StorageError)
    }

    /// Validates a decoded ping body and stores it durably; `done` runs once it is (or why not).
    public func storePing(_ decoded: [UInt8], receivedAt: Timestamp, _ done: @escaping @Sendable (PingOutcome) -> Void) {
        switch intake.prepare(decoded, receivedAt: receivedAt) {
        case .failure(let refusal): done(.refused(refusal))
        case .success(let record):
            let installation = "\(record.facts.installation)"
            committer.submit(.ping(record)) { result in
                switch result {
                case .success(let outcome):
                    if case .duplicate = outcome { done(.stored(id: outcome.id, duplicate: true, installation: installation)) }
                    else { done(.stored(id: outcome.id, duplicate: false, installation: installation)) }
                case .failure(let error): done(.failed(error))
                }
            }
        }
    }

    /// Keeps a rejected body; `done` hears the storage failure, if any.
    public func quarantine(_ record: QuarantineRecord, _ done: @escaping @Sendable (StorageError?) -> Void) {
        committer.submit(.quarantine(record)) { result in
            if case .failure(let error) = result { done(error) } else { done(nil) }
        }
    }

    /// Stores an instance's metadata or error report.
    public func storeReport(_ report: ClientReport, _ done: @escaping @Sendable (StorageError?) -> Void) {
        committer.submit(.clientReport(report)) { result in
            if case .failure(let error) = result { done(error) } else { done(nil) }
        }
    }

    /// Why the most recent write failed, if it failed lately and nothing was written since.
    public func recentWriteFailure() -> String? { committer.recentWriteFailure() }

    /// Bytes of writes waiting for the writer.
    public var queuedBytes: Int { committer.queuedBytes }

    /// Throws when the database cannot be read or its disk is nearly full.
    public func checkReadiness() throws(StorageError) { try store.checkReadiness() }

    public func operationalStatistics() throws(StorageError) -> OperationalStatistics { try store.operationalStatistics() }

    /// Uses `catalog` from now on (after the store took it).
    func use(_ catalog: MetricCatalog) {
        intakeHolder.withLock { $0 = PingIntake(catalog: catalog, limits: limits) }
    }
}
