import Dispatch
import Foundation
import Logging
import PingRollCore
import PingRollStore
import Synchronization

/// The job lane: long operations (an enrollment import, a registry statistics upload, a
/// retention run, a rollup rebuild) run here, one at a time on a thread of their own, never on
/// a request's thread; their writes are paced (`WriterPacing`), so pings are stored between
/// them. Every job is stored (`JobStoring`): its state, its progress, and when it finishes the
/// answer the synchronous route gave (`resultStatus`, `result`) or why it failed.
///
/// After a restart a job the earlier process left queued or running is `failed` with
/// "interrupted", except a rollup rebuild, which runs again and continues where it stopped.
public final class Jobs: Sendable {
    /// What a job's work answers: the HTTP status and JSON body the synchronous route gave.
    public struct Outcome: Sendable {
        public var status: Int
        public var body: [UInt8]
        /// Why it failed, for a status of 400 and above.
        public var error: String?
        /// The work stopped before its end because it was asked to (`Context.isCancelled`).
        public var stopped: Bool

        public init(status: Int, body: [UInt8], error: String? = nil, stopped: Bool = false) {
            self.status = status
            self.body = body
            self.error = error
            self.stopped = stopped
        }
    }

    /// What a running job sees: where to report progress, and whether it was cancelled.
    public final class Context: Sendable {
        public let id: Int64
        fileprivate let cancelled = Atomic<Bool>(false)
        /// Set when pingroll shuts down: the work stops, and the job is left for the next start.
        fileprivate let shuttingDown = Atomic<Bool>(false)
        private let reported = Mutex<(at: ContinuousClock.Instant, done: Int64)?>(nil)
        private let store: any JobStoring

        fileprivate init(id: Int64, store: any JobStoring) {
            self.id = id
            self.store = store
        }

        /// Whether the work should stop at its next step (cancelled, or pingroll shuts down).
        public var isCancelled: Bool { cancelled.load(ordering: .relaxed) || shuttingDown.load(ordering: .relaxed) }

        /// Records progress, at most once a second (each is a short write).
        public func progress(done: Int, total: Int?) {
            let now = ContinuousClock.now
            let due = reported.withLock { last -> Bool in
                if let last, now - last.at < .seconds(1) { return false }
                last = (now, Int64(done))
                return true
            }
            if due { try? store.updateJobProgress(id: id, done: Int64(done), total: total.map(Int64.init)) }
        }
    }

    public typealias Work = @Sendable (Context) throws -> Outcome

    private let store: any JobStoring
    private let logger: Logger
    /// The job lane's one thread, at a lower CPU priority than ingest (`LanePriority.longWork`).
    private let lane = SerialLane(name: "pingroll-jobs", nice: LanePriority.longWork)
    /// The contexts of queued and running jobs, by id (a cancel reaches them here).
    private let live = Mutex<[Int64: Context]>([:])
    /// Re-runs a stored job after a restart (only kinds that resume; nil: none do).
    private let resume: (@Sendable (Job) -> Work?)?

    public init(store: any JobStoring, logger: Logger, resume: (@Sendable (Job) -> Work?)? = nil) {
        self.store = store
        self.logger = logger
        self.resume = resume
    }

    deinit { lane.stop() }

    /// Marks what an earlier process left unfinished: failed ("interrupted"), or queued again
    /// when `resume` gives it work. Call once, before serving.
    public func recover() throws(StorageError) {
        for job in try store.unfinishedJobs() {
            if let work = resume?(job) {
                if job.state == .running { try store.requeueJob(id: job.id) }
                logger.info("resuming an interrupted job", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)"])
                enqueue(job.id, work)
            } else {
                _ = try store.finishJob(id: job.id, state: .failed, at: .now(), resultStatus: nil, result: nil,
                                        error: "interrupted: pingroll stopped while the job was \(job.state.rawValue); start it again")
            }
        }
    }

    /// Stores a new job and queues `work`; answers the job as stored (queued).
    public func start(_ kind: JobKind, by token: String, subject: String, total: Int? = nil,
                      _ work: @escaping Work) throws(StorageError) -> Job {
        let job = try store.createJob(Job(kind: kind, createdBy: token, subject: subject, total: total.map(Int64.init), createdAt: .now()))
        enqueue(job.id, work)
        return job
    }

    private func enqueue(_ id: Int64, _ work: @escaping Work) {
        let context = Context(id: id, store: store)
        live.withLock { $0[id] = context }
        lane.submit { [self] in run(context, work) }
    }

    private func run(_ context: Context, _ work: Work) {
        defer { live.withLock { $0[context.id] = nil } }
        let id = context.id
        if context.shuttingDown.load(ordering: .relaxed) { return }  // stays queued: the next start decides
        do {
            guard try store.startJob(id: id, at: .now()) != nil else { return }  // cancelled while queued
            let outcome: Outcome
            do { outcome = try work(context) } catch {
                if context.shuttingDown.load(ordering: .relaxed) { return }  // left running: the next start decides
                _ = try store.finishJob(id: id, state: context.isCancelled ? .cancelled : .failed, at: .now(), resultStatus: nil,
                                        result: nil, error: "\(error)")
                return
            }
            if outcome.stopped && context.shuttingDown.load(ordering: .relaxed) { return }
            let state: JobState = outcome.stopped ? .cancelled : outcome.status < 400 ? .succeeded : .failed
            _ = try store.finishJob(id: id, state: state, at: .now(), resultStatus: outcome.status,
                                    result: String(decoding: outcome.body, as: UTF8.self),
                                    error: state == .cancelled ? "cancelled before the end; the same request again completes it" : outcome.error)
        } catch {
            logger.error("a job could not record its state", metadata: ["job": "\(id)", "error": "\(error)"])
        }
    }

    /// Cancels a job: a queued one at once, a running one at its next step (its writes so far
    /// stay; each kind's writes are idempotent, so the same request again completes it).
    /// Answers the job as it stands, nil when there is none.
    public func cancel(id: Int64) throws(StorageError) -> Job? {
        guard let job = try store.job(id: id) else { return nil }
        guard !job.state.isFinished else { return job }
        live.withLock { $0[id] }?.cancelled.store(true, ordering: .relaxed)
        if job.state == .queued {
            if let cancelled = try store.finishJob(id: id, state: .cancelled, at: .now(), resultStatus: nil, result: nil,
                                                   error: "cancelled before it started") {
                return cancelled
            }
            return try store.job(id: id)
        }
        return job
    }

    public func job(id: Int64) throws(StorageError) -> Job? { try store.job(id: id) }

    public func jobs(kinds: Set<JobKind>, limit: Int) throws(StorageError) -> [Job] { try store.jobs(kinds: kinds, limit: limit) }

    /// The job once it has finished, or as it stands after `timeout` (a small input finishes
    /// before the answer; a large one is answered queued or running).
    public func settle(_ job: Job, within timeout: Duration) -> Job {
        let deadline = ContinuousClock.now + timeout
        var current = job
        while !current.state.isFinished && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
            if let j = try? store.job(id: job.id) { current = j }
        }
        return current
    }

    /// Waits for every queued job to finish (tests).
    public func drain() { lane.waitUntilIdle() }

    /// Asks every queued and running job to stop (pingroll is shutting down) and waits for
    /// the running one to reach the end of its step. What they leave is the next start's.
    public func shutdown() {
        for context in live.withLock({ Array($0.values) }) { context.shuttingDown.store(true, ordering: .relaxed) }
        lane.waitUntilIdle()
    }
}

/// One thread that runs submitted work in order (a dispatch queue's threads are shared, so
/// their priority cannot be lowered for one kind of work).
final class SerialLane: Sendable {
    private struct State {
        var queue: [@Sendable () -> Void] = []
        var running = false
        var stopping = false
    }
    // `state` is guarded by `condition`'s lock.
    private nonisolated(unsafe) var state = State()
    private let condition = NSCondition()

    init(name: String, nice: Int32) {
        let thread = Thread { [self] in
            LanePriority.lowerCurrentThread(to: nice)
            run()
        }
        thread.name = name
        thread.start()
    }

    func submit(_ work: @escaping @Sendable () -> Void) {
        condition.withLock {
            state.queue.append(work)
            condition.broadcast()
        }
    }

    /// Lets the thread end once what is queued has run.
    func stop() {
        condition.withLock {
            state.stopping = true
            condition.broadcast()
        }
    }

    /// Returns once nothing is queued or running.
    func waitUntilIdle() {
        condition.withLock {
            while state.running || !state.queue.isEmpty { condition.wait() }
        }
    }

    private func run() {
        while true {
            let next: (@Sendable () -> Void)? = condition.withLock {
                while state.queue.isEmpty && !state.stopping { condition.wait() }
                guard !state.queue.isEmpty else { return nil }
                state.running = true
                return state.queue.removeFirst()
            }
            guard let work = next else { return }
            work()
            condition.withLock {
                state.running = false
                condition.broadcast()
            }
        }
    }
}
