import Foundation
import PingRollCore
import PingRollStore
import Synchronization

/// The work of each kind of job, given what its request already checked. Each answers the
/// status and body the synchronous route gave; each reports progress and stops between its
/// transactions when cancelled (what it wrote stays, and running it again completes it).
public enum JobWork {
    /// `POST …/enrollments/import`: every row checked first, then paced, idempotent writes.
    public static func importEnrollments(_ store: any PingStore, program: String, csv: String, partial: Bool,
                                         by token: String) -> Jobs.Work {
        { context in
            let report: BetaOperations.ImportReport
            do throws(BetaOperations.ImportFailure) {
                report = try BetaOperations.importCSV(store, program: program, csv: csv, partial: partial, by: token,
                                                      progress: { done, total in context.progress(done: done, total: total) },
                                                      stop: { context.isCancelled })
            } catch {
                switch error {
                case .csv(let message): return try failure(422, "invalid_csv", message)
                case .storage(let e): throw e
                }
            }
            let status = report.applied ? 200 : 422
            return Jobs.Outcome(status: status, body: try APIJSON.encode(ImportReportBody(report)),
                                error: status == 422 ? report.invalidSummary : nil, stopped: report.stopped)
        }
    }

    /// `POST …/migrations/from-registry-statistics`: the attempts already parsed; runs known
    /// by their registry import ids are skipped, so the same upload again adds nothing.
    public static func registryRuns(_ store: any PingStore, runs: [MigrationRun], enrollmentID: Int64, program: String,
                                    by token: String) -> Jobs.Work {
        { context in
            context.progress(done: 0, total: runs.count)
            let done = Mutex(0)
            let stored = try store.createRuns(runs, enrollmentID: enrollmentID, program: program, by: token,
                                              progress: { n in done.withLock { $0 = n }; context.progress(done: n, total: runs.count) },
                                              stop: { context.isCancelled })
            return Jobs.Outcome(status: 201, body: try APIJSON.encode(MigrationRunListBody(stored, skipped: runs.count - stored.count)),
                                stopped: done.withLock { $0 } < runs.count)
        }
    }

    /// `POST /api/v1/retention`: a run of `policy` (the schedule refuses a second one at once).
    public static func retention(_ schedule: RetentionSchedule, policy: RetentionPolicy, dryRun: Bool) -> Jobs.Work {
        { _ in
            let started = Timestamp.now()
            do {
                let report = try schedule.run(policy, dryRun: dryRun)
                return Jobs.Outcome(status: 200, body: try APIJSON.encode(RetentionReportBody(report, startedAt: started, finishedAt: .now())))
            } catch let busy as RetentionSchedule.Busy {
                return try failure(409, "conflict", "\(busy); try again when it has finished")
            }
        }
    }

    /// `POST /api/v1/rollups/rebuild`: an online rebuild of `metrics` (nil: all, and the
    /// installation counts). After a restart (`resuming`) it runs again and continues from its
    /// cursor, waiting out the minute in which the interrupted run still looks alive.
    public static func rebuild(_ store: any PingStore, metrics: [String]?, resuming: Bool = false) -> Jobs.Work {
        { context in
            // A run stopped by a restart looks alive until its heartbeat is a minute old.
            let deadline = ContinuousClock.now + .seconds(resuming ? 90 : 0)
            while true {
                let attempt = Result { () throws(StorageError) in
                    try store.rebuildRollups(metrics: metrics, chunkPings: 1_000_000,
                                             progress: { done in context.progress(done: done, total: nil) },
                                             stop: { context.isCancelled })
                }
                switch attempt {
                case .success(let report):
                    return Jobs.Outcome(status: 200, body: try APIJSON.encode(RollupRebuildBody(report)), stopped: report.stopped)
                case .failure(let error):
                    guard error.kind == .busy, !context.isCancelled, ContinuousClock.now < deadline else { throw error }
                    Thread.sleep(forTimeInterval: 2)
                }
            }
        }
    }

    static func failure(_ status: Int, _ code: String, _ message: String) throws -> Jobs.Outcome {
        Jobs.Outcome(status: status, body: try APIJSON.encode(ErrorBody(code: code, message: message)), error: message)
    }
}

/// What a rollup rebuild did (the job's result).
public struct RollupRebuildBody: Encodable, Sendable {
    var pings: Int
    var cells: Int
    var metrics: [String]
    var transactions: Int
    var longestTransactionMs: Double
    var resumed: Bool
    var stopped: Bool
    var unreadablePayloads: Int

    enum CodingKeys: String, CodingKey {
        case pings, cells, metrics, transactions, resumed, stopped
        case longestTransactionMs = "longest_transaction_ms", unreadablePayloads = "unreadable_payloads"
    }

    public init(_ r: RollupRebuildReport) {
        pings = r.pings
        cells = r.cells
        metrics = r.metrics
        transactions = r.transactions
        let (s, a) = r.longestHold.components
        longestTransactionMs = ((Double(s) * 1000 + Double(a) / 1e15) * 10).rounded() / 10
        resumed = r.resumed
        stopped = r.stopped
        unreadablePayloads = r.unreadablePayloads
    }
}
