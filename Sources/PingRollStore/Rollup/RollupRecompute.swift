import Dispatch
import PingRollCore

/// Recomputes rollups from the stored raw payloads: the basis of `rollup rebuild` and
/// `rollup verify`.
///
/// The pings are streamed in `(installation_id, recorded_at)` order, a page at a time, so memory
/// holds one page and the cells, whatever the history. In that order a ping is its
/// installation's latest of a period exactly when the next ping is of another installation or
/// falls in another period: one row of lookahead decides it (an installation has at most one
/// ping per `recorded_at`). Payloads of a page are decompressed and re-extracted on two threads.
struct RollupRecompute {
    /// What one run read.
    struct Report {
        var pings = 0
        var unreadablePayloads = 0
        /// Pings whose payload retention dropped: they count with their stored observations.
        var droppedPayloads = 0
        /// Periods (by kind, their start days) in which such a ping was an installation's latest,
        /// so their cells could not be recomputed from raw payloads (rebuilds only).
        var storedOnlyPeriods: [PeriodKind: Set<Int64>] = [:]
        /// The last installation whose pings were all read (nil when there were none).
        var lastInstallation: Int64?
        /// Whether every ping after the starting installation was read.
        var finished = false
    }

    enum Mode {
        /// Compare only: nothing is written.
        case verify
        /// `rollup rebuild --metric`: the targets' observations are re-extracted and stored.
        case metrics
        /// Full rebuild: facts, tuple and observations are re-derived and stored, and the latest
        /// ping of each installation and period is written to `rollup_latest`.
        case full
    }

    let extractor: PayloadExtractor
    let contributor: RollupContributor
    let targets: Set<String>
    let includeInstallations: Bool
    let admission: StringAdmission
    let mode: Mode
    let skeletons: SkeletonReadCache

    static let pageSize = 500
    static let pingColumns: ColumnList = {
        var names = ["id", "installation_id", "recorded_at"] + RollupSQL.contributionColumns.names
        for name in SQLWriter.factColumns where !names.contains(name) { names.append(name) }
        return ColumnList(names + ["payload_encoding", "payload_size", "payload", "shape_id", "received_at"])
    }()

    init(catalog: MetricCatalog, metrics: [MetricDefinition], includeInstallations: Bool, admission: StringAdmission,
         mode: Mode, skeletons: SkeletonReadCache = SkeletonReadCache(maxBytes: SkeletonReadCache.scanBytes)) {
        extractor = PayloadExtractor(catalog: catalog)
        contributor = RollupContributor(metrics: metrics)
        targets = Set(metrics.map(\.keyPath))
        self.includeInstallations = includeInstallations
        self.admission = admission
        self.mode = mode
        self.skeletons = skeletons
    }

    /// A ping of the stream, decoded.
    private struct Item {
        var id: Int64
        var installationID: Int64
        var recordedAt: Int64
        var tuple: RollupTuple
        var observations: [String: MetricObservation]
        var facts: PingFacts?
        /// As stored, so that a rebuild writes back only what changed (most pings: nothing).
        var storedObservations: String?
        var storedFacts: [SQLValue]
        var payloadDropped = false
    }

    /// The part of a row the worker threads need.
    private struct Work: Sendable {
        var payload: CompressedPayload
        var receivedAt: Timestamp
    }

    private struct Decoded: Sendable {
        var facts: PingFacts?
        var observations: [String: MetricObservation]?
        var failure: StorageError?
        var dropped = false
    }

    /// Reads the pings of installations after `cursor` and adds the contribution of every
    /// latest one to `cells`. With a `limit`, stops at the first installation boundary after
    /// `limit` pings (the installation being read is always read to its end).
    func run(_ executor: any SQLExecutor, after cursor: Int64, limit: Int?,
             into cells: inout CompactCells, latest: inout [RollupSQL.LatestEntry],
             progress: ((Int) -> Void)? = nil) throws(StorageError) -> Report {
        let op = "recomputing rollups"
        var report = Report()
        var carry: Item?
        var finishing: Int64?
        var position = (installation: cursor, recordedAt: Int64.max)
        // Pages no larger than the chunk, so that a small chunk is a short transaction.
        let page = min(Self.pageSize, max(1, limit ?? Self.pageSize))
        while true {
            let rows: [NamedRow]
            if let finishing {
                rows = try Self.pingColumns.select(executor, "FROM pings WHERE installation_id = $1 AND recorded_at > $2 ORDER BY recorded_at LIMIT \(page)",
                                                   [.integer(finishing), .integer(position.recordedAt)], operation: op)
            } else {
                rows = try Self.pingColumns.select(executor, """
                    FROM pings WHERE (installation_id, recorded_at) > ($1, $2)
                    ORDER BY installation_id, recorded_at LIMIT \(page)
                    """, [.integer(position.installation), .integer(position.recordedAt)], operation: op)
            }
            var items = try decode(rows, executor, op, report: &report)
            if let last = items.last { position = (last.installationID, last.recordedAt) }
            if let c = carry { items.insert(c, at: 0) }
            carry = nil
            let ended = rows.count < page
            for k in items.indices {
                let next: Item? = k + 1 < items.count ? items[k + 1] : nil
                if next == nil && !ended { carry = items[k]; break }
                try consume(items[k], next: next, executor, op, into: &cells, latest: &latest, report: &report)
                report.pings += 1
            }
            progress?(report.pings)
            if ended {
                if let finishing {
                    report.lastInstallation = finishing
                } else {
                    report.lastInstallation = items.last?.installationID
                    report.finished = true
                }
                return report
            }
            if finishing == nil, let limit, report.pings >= limit, let c = carry {
                // Read the rest of the carried ping's installation, then stop.
                finishing = c.installationID
            }
        }
    }

    /// Decodes a page: the rows are read in order, the payloads decompressed and re-extracted
    /// on two threads.
    private func decode(_ rows: [NamedRow], _ executor: any SQLExecutor, _ op: String, report: inout Report) throws(StorageError) -> [Item] {
        var items: [Item] = []
        var work: [Work] = []
        items.reserveCapacity(rows.count)
        work.reserveCapacity(rows.count)
        for r in rows {
            let (tuple, stored) = try RollupSQL.contribution(r)
            var storedFacts: [SQLValue] = []
            if mode == .full {
                storedFacts.reserveCapacity(SQLWriter.factColumns.count)
                for name in SQLWriter.factColumns { storedFacts.append(try r.value(name)) }
            }
            items.append(Item(id: try r.requiredInt64("id"), installationID: try r.requiredInt64("installation_id"),
                              recordedAt: try r.requiredInt64("recorded_at"), tuple: tuple, observations: stored, facts: nil,
                              storedObservations: try r.string("observations"), storedFacts: storedFacts))
            work.append(Work(payload: try skeletons.compressed(r, executor, op), receivedAt: Timestamp(milliseconds: try r.requiredInt64("received_at"))))
        }
        let wantFacts = mode == .full
        let extractor = self.extractor
        let decoded = Self.parallelMap(work) { w -> Decoded in
            if w.payload.encoding == CompressedPayload.dropped { return Decoded(dropped: true) }
            let payload: [UInt8]
            do throws(StorageError) { payload = try PayloadCodec.decompress(w.payload) } catch { return Decoded(failure: error) }
            if wantFacts, let facts = try? extractor.extract(payload, receivedAt: w.receivedAt) {
                return Decoded(facts: facts, observations: facts.observations)
            }
            return Decoded(facts: nil, observations: extractor.observations(of: payload))
        }
        // A stored payload that does not restore stops the run, as a damaged database should.
        if let failure = decoded.lazy.compactMap(\.failure).first { throw failure }
        for k in items.indices {
            if decoded[k].dropped {
                // Retention dropped the payload: the stored observations and facts are all there is.
                items[k].payloadDropped = true
                report.droppedPayloads += 1
                continue
            }
            var observations = items[k].observations.filter { !targets.contains($0.key) }
            if let fresh = decoded[k].observations {
                for (key, value) in fresh where targets.contains(key) { observations[key] = value }
            } else {
                report.unreadablePayloads += 1
            }
            items[k].observations = observations
            if var facts = decoded[k].facts {
                // A payload that no longer passes today's rules keeps its stored facts.
                items[k].tuple = RollupTuple(facts)
                facts.observations = observations
                items[k].facts = facts
            }
        }
        return items
    }

    private func consume(_ item: Item, next: Item?, _ executor: any SQLExecutor, _ op: String,
                         into cells: inout CompactCells, latest: inout [RollupSQL.LatestEntry], report: inout Report) throws(StorageError) {
        if mode != .verify && !item.payloadDropped {
            // Rewriting a row copies its payload too: only changed rows are written.
            let observations = ObservationCodec.encode(item.observations)
            let facts = item.facts.map(SQLWriter.factValues)
            if let facts, facts != item.storedFacts {
                try executor.query(Self.factsUpdate, [.integer(item.id)] + facts + [.text(observations)], operation: op)
            } else if observations != item.storedObservations {
                try executor.query("UPDATE pings SET observations = $2 WHERE id = $1", [.integer(item.id), .text(observations)], operation: op)
            }
        }
        var failure: StorageError?
        let at = Timestamp(milliseconds: item.recordedAt)
        let nextAt = next.flatMap { $0.installationID == item.installationID ? Timestamp(milliseconds: $0.recordedAt) : nil }
        cells.use(tuple: item.tuple)
        for kind in PeriodKind.allCases {
            let start = kind.start(of: at)
            if let nextAt, kind.start(of: nextAt) == start { continue }
            cells.use(period: kind, start: start)
            if item.payloadDropped && mode != .verify { report.storedOnlyPeriods[kind, default: []].insert(start) }
            contributor.add(observations: item.observations, period: kind, sign: 1,
                            includeInstallations: includeInstallations, into: &cells) { metric, value in
                do throws(StorageError) { return try admission.cell(metric, value) } catch { failure = error; return RollupContributor.otherCell }
            }
            if mode == .full {
                // Each installation and period has one latest ping: the stream decides it once.
                latest.append(RollupSQL.LatestEntry(installationID: item.installationID, period: kind, periodStart: start,
                                                    pingID: item.id, recordedAt: item.recordedAt))
            }
        }
        if let failure { throw failure }
    }

    static let factsUpdate = "UPDATE pings SET \(SQLWriter.factAssignments(from: 2)), observations = $\(2 + SQLWriter.factColumns.count) WHERE id = $1"

    /// `transform` over `input` on two threads (this machine kind has two cores).
    static func parallelMap<In: Sendable, Out: Sendable>(_ input: [In], _ transform: @Sendable (In) -> Out) -> [Out] {
        guard input.count > 1 else { return input.map(transform) }
        let results = ResultSlots<Out>(count: input.count)
        let threads = 2
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var k = t
            while k < input.count {
                results.set(k, transform(input[k]))
                k += threads
            }
        }
        return results.values()
    }
}

/// Slots each written by exactly one thread of `parallelMap`, read after all have finished.
private final class ResultSlots<T>: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: nil, count: count)
    }

    deinit {
        pointer.deinitialize(count: count)
        pointer.deallocate()
    }

    func set(_ k: Int, _ value: T) { pointer[k] = value }

    func values() -> [T] { (0..<count).map { pointer[$0]! } }
}

/// What `rollup rebuild` did.
public struct RollupRebuildReport: Sendable, Equatable {
    public var pings: Int
    public var cells: Int
    public var metrics: [String]
    public var unreadablePayloads: Int
    /// Set when this run continued a rebuild an earlier run left unfinished (from its cursor).
    public var resumed: Bool = false
    /// The write transactions the rebuild took (ingest went on between them).
    public var transactions: Int = 0
    /// The longest of those transactions (each is sized to hold the writer for about 100 ms).
    public var longestHold: Duration = .zero
    /// Set when the run was asked to stop before the end; the next run continues it.
    public var stopped: Bool = false
    /// Pings whose raw payload retention dropped: they were counted with the observations
    /// stored when they arrived, so a metric new to the catalog is unknown in them.
    public var droppedPayloads: Int = 0
    /// The periods whose cells such pings contributed to, by interval: these could not be
    /// backfilled from raw payloads.
    public var storedOnlyPeriods: [PeriodKind: Set<Int64>] = [:]
}

/// What `rollup verify` found.
public struct RollupVerification: Sendable, Equatable {
    public struct Difference: Sendable, Equatable, CustomStringConvertible {
        public var key: CellKey
        /// The value in the live rollups (nil: no such cell).
        public var live: CellValue?
        /// The value recomputed from the raw pings (nil: there should be no such cell).
        public var expected: CellValue?

        public var description: String {
            "\(key): live \(live.map(String.init(describing:)) ?? "none"), recomputed \(expected.map(String.init(describing:)) ?? "none")"
        }
    }

    public var pings: Int
    public var cellsChecked: Int
    public var differences: [Difference]
    /// Catalog metrics whose rollups are not built for the current definition.
    public var stale: [String]
    /// The metrics an unfinished online rebuild is recomputing (not checked until it ends).
    public var rebuilding: [String] = []

    public var isClean: Bool { differences.isEmpty && stale.isEmpty && rebuilding.isEmpty }
}
