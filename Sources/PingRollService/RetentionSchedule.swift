import Foundation
import PingRollCore
import PingRollStore
import Synchronization

/// Retention in a serving pingroll: the configured policy applied once a day (`serve
/// --retention-payload-days/--retention-report-days`, or the config file's `retention`
/// section), and runs asked for through `POST /api/v1/retention`. One run at a time per process.
public final class RetentionSchedule: Sendable {
    /// The policy applied daily; nil: no daily run (the admin route still runs one on request).
    public let policy: RetentionPolicy?
    private let store: any PingStore
    private let running = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    /// A run is due when the newest recorded one started this long ago (or there is none).
    /// A little under a day, so a daily check at about the same time always finds it due.
    static let dueAfterMs: Int64 = 23 * 3_600_000 + 30 * 60_000
    /// How often the thread looks whether a run is due; the first look is after `firstCheck`.
    let checkInterval: Double
    let firstCheck: Double

    public init(policy: RetentionPolicy?, store: any PingStore, checkIntervalSeconds: Double = 600, firstCheckSeconds: Double = 60) {
        self.policy = policy.flatMap { $0.isEmpty ? nil : $0 }
        self.store = store
        checkInterval = checkIntervalSeconds
        firstCheck = firstCheckSeconds
    }

    public struct Busy: Error, CustomStringConvertible {
        public var description: String { "a retention run is already in progress in this pingroll" }
    }

    /// Runs `policy` now (refused while another run of this process is going on).
    public func run(_ policy: RetentionPolicy, dryRun: Bool) throws -> RetentionReport {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { throw Busy() }
        defer { running.store(false, ordering: .releasing) }
        return try store.applyRetention(policy, now: .now(), dryRun: dryRun, batch: RetentionPolicy.defaultBatch, progress: nil)
    }

    /// Starts the daily thread (nothing without a policy).
    public func start(log: @escaping @Sendable (String, Bool) -> Void) {
        guard let policy else { return }
        started.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            defer { finished.signal() }
            var wait = firstCheck
            while sleep(wait) {
                wait = checkInterval
                do {
                    let last = try store.retentionRuns(limit: 1).first
                    if let last, Timestamp.now().milliseconds &- last.startedAt.milliseconds < Self.dueAfterMs { continue }
                    let report = try run(policy, dryRun: false)
                    log("retention: \(RetentionSchedule.summary(report))", true)
                } catch let busy as Busy {
                    log("retention: \(busy)", true)
                } catch {
                    log("retention failed (tried again in \(Int(checkInterval)) s): \(error)", false)
                }
            }
        }
        thread.name = "pingroll-retention"
        thread.start()
    }

    /// Sleeps `seconds` in short steps; false once `stop` was called.
    private func sleep(_ seconds: Double) -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            if stopping.load(ordering: .acquiring) { return false }
            Thread.sleep(forTimeInterval: min(0.25, max(0.01, until.timeIntervalSinceNow)))
        }
        return !stopping.load(ordering: .acquiring)
    }

    /// Stops the daily thread after the run in progress, if any.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    /// One line: what a run removed or would remove.
    public static func summary(_ r: RetentionReport) -> String {
        var parts: [String] = []
        if let cut = r.payloadCutoff {
            var text = "\(r.payloads) payloads (\(r.payloadBytes) stored bytes) of pings recorded before \(cut)"
            if !r.partitions.isEmpty { text += ", \(r.partitions.count) whole monthly partitions (\(r.partitions.joined(separator: ", ")))" }
            parts.append(text)
        }
        if let cut = r.reportCutoff {
            parts.append("\(r.quarantineEntries) quarantine entries (\(r.quarantineBytes) bytes), \(r.metadataReports) metadata reports and \(r.errorReports) error reports received before \(cut)")
        }
        return (r.dryRun ? "would drop " : "dropped ") + parts.joined(separator: "; ")
    }
}
