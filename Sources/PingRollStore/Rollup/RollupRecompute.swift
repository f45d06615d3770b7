import PingRollCore

/// Recomputes rollups from scratch from the stored raw payloads: the basis of `rollup rebuild`
/// and `rollup verify`.
///
/// Pass 1 finds each installation's latest ping per period from the ping rows alone; pass 2
/// reads the payloads in id order, re-extracts the observations with the catalog and adds the
/// contribution of every ping that is a latest one.
struct RollupRecompute {
    struct LatestKey: Hashable {
        var installationID: Int64
        var period: PeriodKind
        var periodStart: Int64
    }

    struct Result {
        var cells: [CellKey: CellValue] = [:]
        var latest: [LatestKey: (pingID: Int64, recordedAt: Int64)] = [:]
        var pings = 0
        var unreadablePayloads = 0
    }

    let executor: any SQLExecutor
    let extractor: PayloadExtractor
    let metrics: [MetricDefinition]
    let includeInstallations: Bool
    let admission: StringAdmission
    /// Called with every ping's fresh observations (rebuild stores them); nil for verify.
    var storeObservations: ((Int64, [String: MetricObservation]) throws(StorageError) -> Void)?
    /// Called with every ping's facts re-derived from its payload, which then also give its
    /// tuple (a full rebuild stores them with the observations, so changed or new fact rules
    /// reach old pings); nil keeps the stored tuple.
    var storeFacts: ((Int64, PingFacts) throws(StorageError) -> Void)?
    var progress: ((Int) -> Void)?

    static let chunk = 500
    static let latestColumns = ColumnList(["id", "installation_id", "recorded_at"])
    static let pingColumns = ColumnList(["id"] + RollupSQL.contributionColumns.names + ["payload_encoding", "payload_size", "payload", "shape_id", "received_at"])

    func run() throws(StorageError) -> Result {
        var result = Result()
        var latestByPing: [Int64: [(PeriodKind, Int64)]] = [:]
        let op = "recomputing rollups"

        var lastID: Int64 = 0
        while true {
            let rows = try Self.latestColumns.select(executor, "FROM pings WHERE id > $1 ORDER BY id LIMIT 10000", [.integer(lastID)], operation: op)
            guard let last = rows.last else { break }
            lastID = try last.requiredInt64("id")
            for r in rows {
                let id = try r.requiredInt64("id"), installation = try r.requiredInt64("installation_id"), recordedAt = try r.requiredInt64("recorded_at")
                for kind in PeriodKind.allCases {
                    let key = LatestKey(installationID: installation, period: kind,
                                        periodStart: kind.start(of: Timestamp(milliseconds: recordedAt)))
                    if let current = result.latest[key], (current.recordedAt, current.pingID) > (recordedAt, id) { continue }
                    result.latest[key] = (id, recordedAt)
                }
            }
        }
        for (key, value) in result.latest { latestByPing[value.pingID, default: []].append((key.period, key.periodStart)) }

        let contributor = RollupContributor(metrics: metrics)
        let skeletons = SkeletonReadCache()
        let targets = Set(metrics.map(\.keyPath))
        lastID = 0
        while true {
            let rows = try Self.pingColumns.select(executor, "FROM pings WHERE id > $1 ORDER BY id LIMIT \(Self.chunk)", [.integer(lastID)], operation: op)
            guard let last = rows.last else { break }
            lastID = try last.requiredInt64("id")
            for r in rows {
                let id = try r.requiredInt64("id")
                var (tuple, stored) = try RollupSQL.contribution(r)
                let payload = try skeletons.payload(r, executor, op)
                var observations = stored.filter { !targets.contains($0.key) }
                // A payload that no longer passes today's rules keeps its stored facts.
                let receivedAt = Timestamp(milliseconds: try r.requiredInt64("received_at"))
                let facts = storeFacts == nil ? nil : try? extractor.extract(payload, receivedAt: receivedAt)
                if let fresh = facts?.observations ?? extractor.observations(of: payload) {
                    for (key, value) in fresh where targets.contains(key) { observations[key] = value }
                } else {
                    result.unreadablePayloads += 1
                }
                if var facts, let storeFacts {
                    tuple = RollupTuple(facts)
                    facts.observations = observations
                    try storeFacts(id, facts)
                } else {
                    try storeObservations?(id, observations)
                }
                var failure: StorageError?
                for (kind, start) in latestByPing[id] ?? [] {
                    contributor.add(tuple: tuple, observations: observations, period: kind, periodStart: start, sign: 1,
                                    includeInstallations: includeInstallations, into: &result.cells) { metric, value in
                        do throws(StorageError) { return try admission.cell(metric, value) } catch { failure = error; return RollupContributor.otherCell }
                    }
                }
                if let failure { throw failure }
                result.pings += 1
            }
            progress?(result.pings)
        }
        result.cells = result.cells.filter { !$0.value.isZero }
        return result
    }
}

/// What `rollup rebuild` did.
public struct RollupRebuildReport: Sendable, Equatable {
    public var pings: Int
    public var cells: Int
    public var metrics: [String]
    public var unreadablePayloads: Int
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

    public var isClean: Bool { differences.isEmpty && stale.isEmpty }
}
