import Foundation
import Logging
import PingRollCore
import Synchronization

/// Groups writes from many concurrent requests into few durable transactions.
///
/// Callers `submit` items and get a callback once the transaction holding their item committed
/// (or failed). One writer thread takes everything queued since its last commit — so batches grow
/// with load and a lone request waits for one commit only. When a batch fails for a reason that is
/// not transient, its items are retried one by one so one bad item cannot fail its neighbours.
/// The queue is bounded by bytes; `submit` refuses with `.overloaded` when it is full.
public final class GroupCommitter: Sendable {
    public typealias Completion = @Sendable (Result<WriteOutcome, StorageError>) -> Void

    private struct Pending {
        var item: WriteItem
        var completion: Completion
    }

    private struct State {
        var queue: [Pending] = []
        var queuedBytes = 0
        /// Quarantine records whose write failed (a full disk, the database away): kept in memory
        /// up to `maxHeldBytes` and written with the next batch that can be, so a rejection is
        /// not lost because the store was briefly unwritable.
        var held: [QuarantineRecord] = []
        var heldBytes = 0
        var stopping = false
        var stopped = false
    }

    public let store: any PingStore
    public let maxBatchItems: Int
    public let maxQueuedBytes: Int
    private let logger: Logger
    private let logLimiter = LogLimiter()
    /// The last failed write's reason, and when (monotonic seconds); nil after a success.
    private let lastFailure = Mutex<(reason: String, at: Double)?>(nil)
    private let condition = NSCondition()
    // Guarded by `condition`: every access below holds it.
    private nonisolated(unsafe) var state = State()

    private let observer: (any WriteObserver)?

    public init(store: any PingStore, maxBatchItems: Int = 1000, maxQueuedBytes: Int = 256 << 20, logger: Logger,
                observer: (any WriteObserver)? = nil) {
        self.store = store
        self.observer = observer
        self.maxBatchItems = maxBatchItems
        self.maxQueuedBytes = maxQueuedBytes
        self.logger = logger
        let thread = Thread { [self] in self.run() }
        thread.name = "pingroll-writer"
        thread.start()
    }

    /// Queues `item`; `completion` runs on the writer thread after the commit, or at once on refusal.
    public func submit(_ item: WriteItem, completion: @escaping Completion) {
        let size = item.queuedBytes
        condition.lock()
        if state.stopping {
            condition.unlock()
            completion(.failure(StorageError(.closed, operation: "queueing a write", reason: "pingroll is shutting down")))
            return
        }
        if state.queuedBytes + size > maxQueuedBytes && !state.queue.isEmpty {
            condition.unlock()
            completion(.failure(StorageError(.overloaded, operation: "queueing a write", reason: "the write queue is full")))
            return
        }
        state.queue.append(Pending(item: item, completion: completion))
        state.queuedBytes += size
        IngestPressure.submitted(1)
        condition.signal()
        condition.unlock()
    }

    /// Bytes of the writes queued and not yet taken into a batch.
    public var queuedBytes: Int {
        condition.lock()
        defer { condition.unlock() }
        return state.queuedBytes
    }

    /// Submits and waits; for callers that are not on a request thread (CLI imports, tests).
    public func submitAndWait(_ item: WriteItem) -> Result<WriteOutcome, StorageError> {
        let box = Mutex<Result<WriteOutcome, StorageError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        submit(item) { result in
            box.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return box.withLock { $0! }
    }

    /// Commits everything queued, then stops the writer thread. Later submits are refused.
    public func shutdown() {
        condition.lock()
        state.stopping = true
        condition.broadcast()
        while !state.stopped { condition.wait() }
        condition.unlock()
    }

    /// Memory for quarantine records waiting for the store to take writes again.
    public static let maxHeldBytes = 16 << 20

    /// Keeps a quarantine record whose write failed for the next batch; when the hold is full the
    /// record is dropped, and the log says so.
    private func hold(_ record: QuarantineRecord) {
        let size = record.body.count + 512
        let kept: Bool = {
            condition.lock()
            defer { condition.unlock() }
            guard state.heldBytes + size <= Self.maxHeldBytes else { return false }
            state.held.append(record)
            state.heldBytes += size
            return true
        }()
        if !kept {
            let (admitted, suppressed) = logLimiter.admit("quarantine hold full")
            if admitted {
                logger.error("dropped a rejected body: the store takes no writes and the in-memory hold is full",
                             metadata: ["route": "\(record.route)", "reason": "\(record.reason)", "similar_lines_suppressed": "\(suppressed)"])
            }
        }
    }

    /// The held records as batch items (without callers to tell), emptying the hold; call with
    /// `condition` locked.
    private func takeHeld() -> [Pending] {
        defer { state.held = []; state.heldBytes = 0 }
        return state.held.map { Pending(item: .quarantine($0), completion: { _ in }) }
    }

    private func run() {
        while true {
            condition.lock()
            while state.queue.isEmpty && !state.stopping {
                if state.held.isEmpty { condition.wait() } else if !condition.wait(until: Date().addingTimeInterval(2)) { break }
            }
            if state.queue.isEmpty && !state.held.isEmpty && !state.stopping {
                // Nothing new for a while: try the held records on their own.
                let held = takeHeld()
                condition.unlock()
                commit(held)
                continue
            }
            if state.queue.isEmpty && state.stopping {
                if !state.held.isEmpty {
                    // One last try for held rejections before the store closes.
                    let held = takeHeld()
                    condition.unlock()
                    commit(held)
                    condition.lock()
                    if !state.held.isEmpty {
                        logger.error("stopping with quarantine records that could not be written", metadata: ["records": "\(state.held.count)"])
                        state.held = []
                    }
                }
                state.stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            var batch = Array(state.queue.prefix(maxBatchItems))
            state.queue.removeFirst(batch.count)
            state.queuedBytes -= batch.reduce(0) { $0 + $1.item.queuedBytes }
            let taken = batch.count
            // Held records ride along; if the batch fails again they are held again.
            batch += takeHeld()
            condition.unlock()
            commit(batch)
            IngestPressure.committed(taken)
        }
    }

    /// Why the most recent write failed, when it failed within `seconds` and nothing has been
    /// written since; for readiness checks.
    public func recentWriteFailure(within seconds: Double = 30) -> String? {
        lastFailure.withLock { f in
            guard let f, Self.monotonicSeconds() - f.at <= seconds else { return nil }
            return f.reason
        }
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func commit(_ batch: [Pending]) {
        let started = ContinuousClock.now
        do {
            let outcomes = try store.write(batch.map(\.item))
            observer?.committed(items: batch.count, duration: ContinuousClock.now - started)
            lastFailure.withLock { $0 = nil }
            for (pending, outcome) in zip(batch, outcomes) { pending.completion(.success(outcome)) }
        } catch where !error.isTransient && batch.count > 1 {
            logger.warning("write batch failed, retrying its items one by one", metadata: ["error": "\(error)", "items": "\(batch.count)"])
            for pending in batch { commit([pending]) }
        } catch {
            lastFailure.withLock { $0 = ("\(error.kind.rawValue): \(error.reason)", Self.monotonicSeconds()) }
            let (admitted, suppressed) = logLimiter.admit("write failed")
            if admitted {
                logger.error("write failed", metadata: ["error": "\(error)", "items": "\(batch.count)",
                                                        "similar_lines_suppressed": "\(suppressed)"])
            }
            for pending in batch {
                if case .quarantine(let record) = pending.item, error.isTransient || error.kind == .io { hold(record) }
                pending.completion(.failure(error))
            }
        }
    }
}


