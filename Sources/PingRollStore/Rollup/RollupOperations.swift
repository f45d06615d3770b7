import PingRollCore

/// `rollup rebuild` and `rollup verify` over any executor, inside a transaction the caller opened
/// (a write transaction for rebuild, a read snapshot for verify).
enum RollupOperations {
    static func rebuild(_ executor: any SQLExecutor, catalog: MetricCatalog, only: [String]?, tuples: TupleRegistry,
                        progress: ((Int) -> Void)?) throws(StorageError) -> RollupRebuildReport {
        let op = "rebuilding rollups"
        let metrics: [MetricDefinition]
        if let only {
            var chosen: [MetricDefinition] = []
            for key in only {
                guard let m = catalog.metric(key) else {
                    throw StorageError(.other, operation: op, reason: "`\(key)` is not in the catalog")
                }
                chosen.append(m)
            }
            metrics = chosen
            for m in metrics {
                try executor.query("DELETE FROM rollup_cells WHERE metric = $1", [.text(m.keyPath)], operation: op)
                try executor.query("DELETE FROM rollup_string_values WHERE metric = $1", [.text(m.keyPath)], operation: op)
            }
        } else {
            metrics = catalog.metrics
            for table in ["rollup_cells", "rollup_string_values", "rollup_latest", "rollup_metrics"] {
                try executor.query("DELETE FROM \(table)", [], operation: op)
            }
        }
        var recompute = RollupRecompute(executor: executor, extractor: PayloadExtractor(catalog: catalog), metrics: metrics,
                                        includeInstallations: only == nil, admission: StringAdmission(executor: executor, readOnly: false))
        recompute.progress = progress
        recompute.storeObservations = { id, observations throws(StorageError) in
            try executor.query("UPDATE pings SET observations = $2 WHERE id = $1",
                               [.integer(id), .text(ObservationCodec.encode(observations))], operation: op)
        }
        if only == nil {
            let update = "UPDATE pings SET \(SQLWriter.factAssignments(from: 2)), observations = $\(2 + SQLWriter.factColumns.count) WHERE id = $1"
            recompute.storeFacts = { id, facts throws(StorageError) in
                try executor.query(update,
                                   [.integer(id)] + SQLWriter.factValues(facts) + [.text(ObservationCodec.encode(facts.observations))],
                                   operation: op)
            }
        }
        let result = try recompute.run()
        try RollupSQL.upsert(result.cells, executor, tuples: tuples, operation: op)
        if only == nil {
            // Installations carry the facts of their latest ping.
            try executor.query("""
                UPDATE installations SET (\(SQLWriter.factColumnList)) = (
                    SELECT \(SQLWriter.factColumnList) FROM pings p
                    WHERE p.id = installations.latest_ping_id AND p.recorded_at = installations.latest_recorded_at)
                WHERE latest_ping_id IS NOT NULL
                """, [], operation: op)
            for (key, value) in result.latest {
                try executor.query("INSERT INTO rollup_latest (installation_id, period, period_start, ping_id, recorded_at) VALUES ($1, $2, $3, $4, $5)",
                                   [.integer(key.installationID), .integer(key.period.code), .integer(key.periodStart),
                                    .integer(value.pingID), .integer(value.recordedAt)], operation: op)
            }
        }
        try RollupState.markBuilt(executor, metrics: metrics, installations: only == nil)
        return RollupRebuildReport(pings: result.pings, cells: result.cells.count, metrics: metrics.map(\.keyPath),
                                   unreadablePayloads: result.unreadablePayloads)
    }

    static func verify(_ executor: any SQLExecutor, catalog: MetricCatalog,
                       progress: ((Int) -> Void)?) throws(StorageError) -> RollupVerification {
        let state = try RollupState.load(executor, catalog: catalog)
        var recompute = RollupRecompute(executor: executor, extractor: PayloadExtractor(catalog: catalog), metrics: state.active,
                                        includeInstallations: true, admission: StringAdmission(executor: executor, readOnly: true))
        recompute.progress = progress
        var expected = try recompute.run().cells
        // The live cells are read one metric at a time and checked off against the expected
        // ones, so only one metric's live cells are in memory beside the recomputation.
        var differences: [RollupVerification.Difference] = []
        var checked = expected.count
        for metric in [CellKey.installationsMetric] + state.active.map(\.keyPath) {
            for (key, value) in try RollupSQL.cells(executor, metrics: [metric]) {
                let want = expected.removeValue(forKey: key)
                if want == nil { checked += 1 }
                if want != value { differences.append(.init(key: key, live: value, expected: want)) }
            }
        }
        for (key, value) in expected { differences.append(.init(key: key, live: nil, expected: value)) }
        differences.sort { $0.key < $1.key }
        return RollupVerification(pings: try pingCount(executor), cellsChecked: checked,
                                  differences: differences, stale: state.staleNames)
    }

    static func pingCount(_ executor: any SQLExecutor) throws(StorageError) -> Int {
        Int(clamping: try executor.scalarInt64("SELECT COUNT(*) FROM pings", [], operation: "counting pings"))
    }
}
