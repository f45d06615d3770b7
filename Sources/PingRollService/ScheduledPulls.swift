import Foundation
import PingRollCore
import PingRollStore
import Synchronization

/// `serve --pull-config`: pulls each listed instance's Service Ping payload on a schedule and
/// stores it through the ingest path, keeping each instance's status for `GET /api/v1/pulls`.
/// Tokens are read from their files at every pull (so they can be rotated) and never logged.
public final class ScheduledPulls: Sendable {
    public struct Instance: Sendable, Equatable {
        public var name: String
        public var url: String
        public var tokenFile: String

        public init(name: String, url: String, tokenFile: String) {
            self.name = name
            self.url = url
            self.tokenFile = tokenFile
        }
    }

    /// An instance's status: the record kept in the store.
    public typealias Status = PullStatusRecord

    public let interval: Double
    private let instances: [Instance]
    private let statuses: Mutex<[Status]>
    private let stopping = Atomic<Bool>(false)
    private let cancellation = BoundedFetch.Cancellation()
    private let finished = DispatchSemaphore(value: 0)

    /// Where each instance's status is kept across restarts; nil keeps it in memory only.
    private let store: (any PullStatusStoring)?

    /// Takes up each instance's stored status (when its URL is unchanged): its counts, last
    /// success and error, and when it is due, so a restart neither forgets nor pulls early.
    public init(instances: [Instance], intervalSeconds: Double, store: (any PullStatusStoring)? = nil) throws(StorageError) {
        self.instances = instances
        self.store = store
        interval = intervalSeconds
        let now = Timestamp.now()
        let stored = Dictionary(try store?.pullStatuses().map { ($0.name, $0) } ?? [], uniquingKeysWith: { a, _ in a })
        statuses = Mutex(instances.map { instance in
            guard let s = stored[instance.name], s.url == instance.url else { return Status(name: instance.name, url: instance.url, nextAt: now) }
            // Due no later than one interval from now, whatever the stored time says.
            let latest = Timestamp(milliseconds: now.milliseconds &+ Int64(intervalSeconds * 1000))
            var status = s
            status.nextAt = s.nextAt < latest ? s.nextAt : latest
            return status
        })
    }

    public var status: [Status] { statuses.withLock { $0 } }

    /// Starts the pulling thread; `committer` stores what it pulls through `intake()`, asked at
    /// every pull (a catalog reload replaces it).
    public func start(intake: @escaping @Sendable () -> PingIntake, committer: GroupCommitter, log: @escaping @Sendable (String, Bool) -> Void) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            while !stopping.load(ordering: .acquiring) {
                let now = Timestamp.now()
                for (i, instance) in instances.enumerated() where statuses.withLock({ $0[i].nextAt <= now }) {
                    if stopping.load(ordering: .acquiring) { return }
                    pull(i, instance, intake: intake(), committer: committer, log: log)
                }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
        thread.name = "pingroll-pulls"
        thread.start()
    }

    /// Cancels the pull in progress (within about a second) and starts no other; returns at
    /// once. `stop()` then waits for the pulling thread.
    public func cancel() {
        stopping.store(true, ordering: .releasing)
        cancellation.cancel()
    }

    /// Cancels the pull in progress and waits for the pulling thread to end.
    public func stop() {
        cancel()
        finished.wait()
    }

    private func pull(_ i: Int, _ instance: Instance, intake: PingIntake, committer: GroupCommitter, log: @Sendable (String, Bool) -> Void) {
        let started = Timestamp.now()
        var id: Int64?
        var failure: String?
        do throws(ServicePingPull.Failure) {
            let pull = try ServicePingPull(base: instance.url)
            let bytes = try pull.fetch(token: try ServicePingPull.readToken(instance.tokenFile), cancellation: cancellation)
            switch pull.storable(bytes, intake: intake, receivedAt: Timestamp.now()) {
            case .success(let record):
                switch committer.submitAndWait(.ping(record)) {
                case .success(let outcome): id = outcome.id
                case .failure(let error): failure = "the payload could not be stored: \(error)"
                }
            case .failure(let rejected):
                _ = committer.submitAndWait(.quarantine(rejected.entry))
                failure = "the payload is not a valid ping (\(rejected.refusal.code)); it is in the quarantine"
            }
        } catch {
            // Cut short by shutdown: not the instance's failure, and due again at the next start.
            if cancellation.isCancelled { return }
            failure = error.description
        }
        // After a failure, try again in an hour (or the interval, if shorter).
        let next = Timestamp(milliseconds: Timestamp.now().milliseconds &+ Int64((failure == nil ? interval : min(interval, 3600)) * 1000))
        let updated = statuses.withLock { s -> Status in
            s[i].lastAttemptAt = started
            s[i].nextAt = next
            if let id {
                s[i].lastSuccessAt = Timestamp.now()
                s[i].lastUsageDataID = id
                s[i].lastError = nil
                s[i].successes += 1
            } else {
                s[i].lastError = failure
                s[i].failures += 1
            }
            return s[i]
        }
        do throws(StorageError) {
            try store?.savePullStatus(updated)
        } catch {
            log("the status of the pull from \(instance.name) could not be saved: \(error)", false)
        }
        if let failure { log("pull from \(instance.name) failed: \(failure)", false) } else { log("pulled \(instance.name): usage_data_id \(id ?? 0)", true) }
    }
}
