import Foundation
import PingRollService
import Synchronization

/// How the API lane is sized: `serve --api-workers`, `--api-queue`, `--api-request-timeout`.
public struct APILaneLimits: Sendable {
    public var workers = 4
    public var maxQueued = 256
    public var timeoutSeconds = 30.0

    public init() {}
}

/// The API lane: a fixed set of worker threads that answer every route but the ingest ones, so
/// that no API handler, page or export ever runs on a libmicrohttpd event-loop thread (which
/// would stop every connection of that thread, pings included, while it ran).
///
/// The queue is bounded (`submit` refuses when it is full: the caller answers 503 with
/// `Retry-After`), and each request has a time budget: when it passes, the caller answers 503
/// `timeout`, and a request still waiting in the queue is not started at all. A handler that
/// is already running is not interrupted (Swift has no preemption); its late answer is dropped.
final class APILane: Sendable {
    /// One request's work and whether it was answered (by its handler or its deadline).
    final class Ticket: Sendable {
        let answered = Atomic<Bool>(false)
        /// Marks the ticket answered; true for the one caller that did so first.
        func claim() -> Bool { !answered.exchange(true, ordering: .acquiringAndReleasing) }
    }

    let workers: Int
    let maxQueued: Int
    let timeoutSeconds: Double
    private struct State {
        var queue: [(Ticket, @Sendable () -> Void)] = []
        var head = 0
        var stopping = false
    }
    // `state` is guarded by `condition`'s lock.
    private nonisolated(unsafe) var state = State()
    private let condition = NSCondition()

    init(workers: Int, maxQueued: Int, timeoutSeconds: Double) {
        self.workers = max(1, workers)
        self.maxQueued = max(1, maxQueued)
        self.timeoutSeconds = timeoutSeconds
        for i in 0..<self.workers {
            let thread = Thread { [self] in
                // After ingest, before long work: a view never takes the CPU from a ping.
                LanePriority.lowerCurrentThread(to: LanePriority.api)
                run()
            }
            thread.name = "pingroll-api-\(i)"
            thread.start()
        }
    }

    /// Requests waiting for a worker now.
    var queued: Int { condition.withLock { state.queue.count - state.head } }

    /// Queues `work`; false when the queue is full or the lane is stopping. `work` is skipped
    /// if `ticket` is answered before a worker reaches it.
    func submit(_ ticket: Ticket, _ work: @escaping @Sendable () -> Void) -> Bool {
        condition.withLock {
            guard !state.stopping, state.queue.count - state.head < maxQueued else { return false }
            state.queue.append((ticket, work))
            condition.signal()
            return true
        }
    }

    /// Lets the workers finish what they run and drop what waits; they then end.
    func stop() {
        condition.withLock {
            state.stopping = true
            condition.broadcast()
        }
    }

    private func run() {
        while true {
            condition.lock()
            while state.head == state.queue.count && !state.stopping { condition.wait() }
            if state.head == state.queue.count {
                condition.unlock()
                return
            }
            let (ticket, work) = state.queue[state.head]
            state.head += 1
            if state.head > 1024 && state.head * 2 > state.queue.count {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
            condition.unlock()
            if !ticket.answered.load(ordering: .acquiring) { work() }
        }
    }
}
