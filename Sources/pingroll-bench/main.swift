// pingroll-bench: benchmarks that print figures next to a ceiling measured in the same run.
//
//   pingroll-bench rollup-cost [--pings N] [--installations N] [--batch N] [--payload-bytes N]
//
// rollup-cost: the same extracted pings are written through the store twice, into a fresh
// database without a catalog (no rollups: the ceiling) and into one with the shipped catalog;
// prints pings/s for both, the ratio, and the rollup rows touched per ping.
import Foundation
import PingRollCore
import PingRollService
import PingRollStore

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}

/// schemas/metrics.catalog.json from the working directory or above, else the built-in catalog.
func findCatalog() -> MetricCatalog {
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 {
        let path = dir.appendingPathComponent("schemas/metrics.catalog.json").path
        if let data = FileManager.default.contents(atPath: path), let c = try? MetricCatalog(json: Array(data)) { return c }
        dir = dir.deletingLastPathComponent()
    }
    // Outside the repository: the catalog built into pingroll (the same file, as shipped).
    return try! MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8))
}

func makePayload(index: Int, installations: Int, bytes: Int) -> [UInt8] {
    let inst = index % installations
    // One ping a week per installation, its weekday fixed by the installation, spread over a year.
    let week = index / installations
    let at = Timestamp(milliseconds: Timestamp.parseISO8601("2024-01-01T00:00:00Z")!.milliseconds
                       + Int64(week * 7 + inst % 7) * 86_400_000 + Int64(inst % 86_400) * 1000)
    let editions = ["CE", "EE Free", "EES", "EEP", "EEU"], types = ["omnibus-gitlab", "gitlab-helm-chart", "gitlab-operator", "source"]
    let minor = 4 + (inst + week / 8) % 8
    var counts: [String] = ["\"projects_with_packages\":\(inst % 50)", "\"packages\":\(inst * 3 % 1000)",
                            "\"projects_with_expiration_policy_enabled\":\(inst % 9)", "\"projects_with_expiration_policy_disabled\":-1"]
    var i = 0, size = 0
    while size < bytes {
        counts.append("\"metric_\(i)\":\(i * 31 % 997)")
        size += counts[counts.count - 1].utf8.count + 1
        i += 1
    }
    let json = """
        {"uuid":"bench-\(inst)","hostname":"host-\(inst).example","recorded_at":"\(at)","version":"16.\(minor).1-ee",\
        "edition":"\(editions[inst % editions.count])","installation_type":"\(types[inst % types.count])",\
        "active_user_count":\(inst % 3000),"container_registry_enabled":\(inst % 5 != 0),\
        "container_registry_server":{"vendor":"\(inst % 11 == 0 ? "other" : "gitlab")","version":"3.\(80 + minor).0-gitlab",\
        "db_enabled":\(minor >= 9 && inst % 3 != 0)},"database":{"version":"14.\(inst % 10)"},"gitaly":{"servers":\(1 + inst % 3)},\
        "usage_activity_by_stage_monthly":{"package":{"projects_with_packages":\(inst % 20)}},"counts":{\(counts.joined(separator: ","))}}
        """
    return Array(json.utf8)
}

func rollupCost() throws {
    let pings = option("--pings", 20_000), installations = option("--installations", 2_000)
    let batchSize = option("--batch", 200), payloadBytes = option("--payload-bytes", 2_000)
    let catalog = findCatalog()
    let extractor = PayloadExtractor(catalog: catalog)
    let now = Timestamp.parseISO8601("2025-06-01T00:00:00Z")!
    print("preparing \(pings) pings (\(installations) installations, ~\(payloadBytes) B payloads)...")
    let records: [WriteItem] = try (0..<pings).map { i in
        let bytes = makePayload(index: i, installations: installations, bytes: payloadBytes)
        return .ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: now), receivedAt: now, payload: PayloadCodec.compress(bytes)))
    }.shuffled()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }

    func run(_ name: String, catalog: MetricCatalog?) throws -> (Double, SQLiteStore) {
        let store = try SQLiteStore(path: dir.appendingPathComponent("\(name).sqlite3").path, catalog: catalog)
        _ = try store.migrate()
        _ = try store.prepareRollups()
        let start = Date()
        var index = 0
        while index < records.count {
            _ = try store.write(Array(records[index..<min(index + batchSize, records.count)]))
            index += batchSize
        }
        return (Double(records.count) / Date().timeIntervalSince(start), store)
    }

    let (ceiling, plain) = try run("without", catalog: nil)
    plain.close()
    let (withRollups, rolled) = try run("with", catalog: catalog)
    let cells = rolled.rollupCellWrites
    let verify = CommandLine.arguments.contains("--skip-verify") ? nil : try rolled.verifyRollups(progress: nil)
    rolled.close()
    let ratio = withRollups / ceiling
    print(String(format: "without rollups (ceiling): %8.0f pings/s", ceiling))
    print(String(format: "with rollups:              %8.0f pings/s   (%.2f of the ceiling)", withRollups, ratio))
    print(String(format: "rollup cell upserts: %.1f per ping (%d metrics x 3 periods, batch of %d); rollup_latest: 1 read and 1 upsert per ping (a predecessor read when one is replaced); cells: up to 64 per statement",
                 Double(cells) / Double(pings), catalog.metrics.count, batchSize))
    if let verify { print("verify after the run: \(verify.isClean ? "clean" : "\(verify.differences.count) differences")") }
    print(#"{"bench":"rollup-cost","pings":\#(pings),"installations":\#(installations),"batch":\#(batchSize),"without_pings_per_s":\#(Int(ceiling)),"with_pings_per_s":\#(Int(withRollups)),"ratio":\#(String(format: "%.3f", ratio)),"cell_upserts_per_ping":\#(String(format: "%.2f", Double(cells) / Double(pings)))}"#)
}

/// query-cost: stores N small pings (one a week per installation over a year) with rollups, then
/// times the one-year weekly series of db_enabled grouped by installation type from the rollups
/// (what `GET /api/v1/series` runs, minus HTTP) against the same answer computed from the raw
/// ping rows with plain SQL, and checks that both answers agree.
func queryCost() throws {
    let pings = option("--pings", 1_000_000), runs = option("--runs", 200)
    let installations = max(1, pings / 52)
    let catalog = findCatalog()
    let extractor = PayloadExtractor(catalog: catalog)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-qbench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("q.sqlite3").path
    // --postgres URL: the same benchmark on PostgreSQL (an empty database the benchmark may fill).
    let postgres = stringOption("--postgres")
    let store: any PingStore = try postgres.map { try PostgresStore(url: $0, catalog: catalog) } ?? SQLiteStore(path: path, catalog: catalog)
    defer { store.close() }
    _ = try store.migrate()
    _ = try store.prepareRollups()
    let now = Timestamp.parseISO8601("2025-06-01T00:00:00Z")!
    let started = Date()
    var batch: [WriteItem] = []
    for i in 0..<pings {
        let bytes = makePayload(index: i, installations: installations, bytes: 0)
        batch.append(.ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: now), receivedAt: now, payload: PayloadCodec.compress(bytes))))
        if batch.count == 2_000 || i == pings - 1 {
            _ = try store.write(batch)
            batch.removeAll(keepingCapacity: true)
            if (i + 1) % 100_000 == 0 { print("stored \(i + 1) pings (\(Int(Double(i + 1) / Date().timeIntervalSince(started))) pings/s)") }
        }
    }
    print("stored \(pings) pings of \(installations) installations in \(Int(Date().timeIntervalSince(started))) s")

    let query = try SeriesQuery.parse([("metric", "container_registry_server.db_enabled"), ("interval", "week"), ("from", "2024-01-01"),
                                       ("to", "2024-12-29"), ("group_by", "installation_type")], catalog: catalog)
    var durations: [Double] = []
    var answer: [SeriesGroup] = []
    for _ in 0..<runs {
        let t = Date()
        answer = try store.series(query)
        durations.append(Date().timeIntervalSince(t) * 1000)
    }
    durations.sort()
    let p50 = durations[durations.count / 2], p99 = durations[min(durations.count - 1, durations.count * 99 / 100)]

    // The same answer from raw rows: latest ping per installation and ISO week, then counts under
    // the catalog's db_enabled rule (true: registry enabled and db_enabled reported true; false
    // also needs the vendor gitlab).
    let raw = """
        WITH weekly AS (
            SELECT installation_type, registry_enabled, registry_vendor, db_enabled,
                   (recorded_at / 86400000) - (((recorded_at / 86400000) + 3) % 7) AS week,
                   ROW_NUMBER() OVER (PARTITION BY installation_id, (recorded_at / 86400000) - (((recorded_at / 86400000) + 3) % 7)
                                      ORDER BY recorded_at DESC) AS n
            FROM pings WHERE recorded_at >= $1 AND recorded_at < $2)
        SELECT COALESCE(installation_type, 'unknown'), week, COUNT(*),
               SUM(CASE WHEN registry_enabled = 1 AND db_enabled = 1 THEN 1 ELSE 0 END),
               SUM(CASE WHEN registry_enabled = 1 AND registry_vendor = 'gitlab' AND db_enabled = 0 THEN 1 ELSE 0 END)
        FROM weekly WHERE n = 1 GROUP BY 1, 2 ORDER BY 1, 2
        """
    var rawDurations: [Double] = []
    var rawRows: [SQLRow] = []
    let bounds: [SQLValue] = [.integer(query.periodStarts.first! * 86_400_000), .integer((query.periodStarts.last! + 7) * 86_400_000)]
    let probe: (String, [SQLValue]) throws -> [SQLRow]
    let closeProbe: () -> Void
    if let postgres {
        let pg = try PostgresStore(url: postgres)
        probe = { try pg.rawQuery($0, $1) }
        closeProbe = pg.close
    } else {
        let lite = try SQLiteStore(path: path)
        probe = { try lite.rawQuery($0, $1) }
        closeProbe = lite.close
    }
    defer { closeProbe() }
    for _ in 0..<3 {
        let t = Date()
        rawRows = try probe(raw, bounds)
        rawDurations.append(Date().timeIntervalSince(t) * 1000)
    }
    // The answer's JSON (`SeriesBody` through `APIJSON`, what the route sends): its cost next to the query's.
    var encodeDurations: [Double] = []
    var encodedBytes = 0
    for _ in 0..<runs {
        let t = Date()
        encodedBytes = try APIJSON.encode(SeriesBody(query, answer)).count
        encodeDurations.append(Date().timeIntervalSince(t) * 1000)
    }
    encodeDurations.sort()
    let encodeP50 = encodeDurations[encodeDurations.count / 2]
    var agree = true
    for r in rawRows {
        let group = answer.first { $0.group == r[0].string }
        let point = group?.points.first { $0.period == r[1].int64 }
        if point?.installations != r[2].int64 || point?.count("true") != r[3].int64 || point?.count("false") != r[4].int64 { agree = false }
    }
    let rawMedian = rawDurations.sorted()[1]
    print(String(format: "series from rollups:   p50 %.2f ms, p99 %.2f ms (%d runs)", p50, p99, runs))
    print(String(format: "same answer, raw SQL:  %.0f ms median of 3 (%.0f× slower than the rollups' p50)", rawMedian, rawMedian / p50))
    print(String(format: "JSON of the answer:    p50 %.2f ms for %d bytes (%.2f× the query's p50)", encodeP50, encodedBytes, encodeP50 / p50))
    print("answers agree: \(agree ? "yes" : "NO") (\(rawRows.count) group-weeks)")
    print(#"{"bench":"query-cost","backend":"\#(postgres == nil ? "sqlite" : "postgresql")","pings":\#(pings),"series_p50_ms":\#(String(format: "%.3f", p50)),"series_p99_ms":\#(String(format: "%.3f", p99)),"raw_sql_ms":\#(Int(rawMedian)),"encode_p50_ms":\#(String(format: "%.3f", encodeP50)),"agree":\#(agree)}"#)
    if !agree { exit(1) }
}

/// beta-export: N enrollments (a tenth linked to installations that pinged), exported as CSV
/// through the streamed cohort export; prints rows/s and the peak RSS before and after.
func betaExport() throws {
    let count = option("--enrollments", 100_000)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-bbench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let catalog = findCatalog()
    let store = try SQLiteStore(path: dir.appendingPathComponent("b.sqlite3").path, catalog: catalog)
    defer { store.close() }
    _ = try store.migrate()
    _ = try store.prepareRollups()
    try store.createProgram(BetaProgram(slug: "registry-metadata-db", name: "Registry metadata database", description: nil, phases: ["wave-1", "wave-2"]))
    let extractor = PayloadExtractor(catalog: catalog)
    let now = Timestamp.now()
    var pings: [WriteItem] = []
    for i in stride(from: 0, to: count, by: 10) {
        let json = #"{"uuid":"inst-\#(i)","recorded_at":"\#(now)","version":"17.1.0-ee","edition":"EEP","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(i % 20 == 0)}}"#
        pings.append(.ping(PingRecord(facts: try extractor.extract(Array(json.utf8), receivedAt: now), receivedAt: now, payload: PayloadCodec.compress(Array(json.utf8)))))
        if pings.count == 1000 { _ = try store.write(pings); pings.removeAll() }
    }
    if !pings.isEmpty { _ = try store.write(pings) }
    let drivers = BetaValidation.storageDrivers
    var batch: [Enrollment] = []
    for i in 0..<count {
        var x = Enrollment(program: "registry-metadata-db", organization: i % 97 == 0 ? "=cmd|' /C calc'!A0 Corp \(i)" : "Org \(i), Inc.",
                           contactName: "Contact \(i)", contactEmail: "pm\(i)@customer\(i % 1000).example")
        x.uuid = i % 10 == 0 ? "inst-\(i)" : nil
        x.registrySizeBytes = Int64(i % 5000) * 1_000_000_000
        x.storageDriver = drivers[i % drivers.count]
        x.phase = i % 2 == 0 ? "wave-1" : "wave-2"
        x.status = i % 3 == 0 ? .enrolled : .interested
        x.notes = i % 7 == 0 ? "said: \"migrate after the freeze\"\nsecond line" : nil
        x.createdAt = now
        x.updatedAt = now
        batch.append(x)
        if batch.count == 5_000 { _ = try store.createEnrollments(batch, by: "bench"); batch.removeAll() }
    }
    if !batch.isEmpty { _ = try store.createEnrollments(batch, by: "bench") }
    let rssBefore = peakRSSKiB()
    let export = BetaOperations.CohortExport(store: store, program: "registry-metadata-db", filter: CohortFilter(), format: .csv)
    var bytes = 0, sample: [String] = []
    let start = Date()
    while let piece = export.next() {
        bytes += piece.count
        if sample.count < 4 { sample += String(decoding: piece.prefix(4000), as: UTF8.self).components(separatedBy: "\r\n").prefix(4 - sample.count) }
    }
    let seconds = Date().timeIntervalSince(start)
    print("sample:")
    for line in sample { print("  " + line) }
    print(String(format: "exported %d enrollments (%.1f MB CSV) in %.2f s: %.0f rows/s", export.rows, Double(bytes) / 1e6, seconds, Double(export.rows) / seconds))
    print("peak RSS before the export: \(rssBefore / 1024) MiB, after: \(peakRSSKiB() / 1024) MiB")
    print(#"{"bench":"beta-export","rows":\#(export.rows),"rows_per_s":\#(Int(Double(export.rows) / seconds)),"peak_rss_kib_before":\#(rssBefore),"peak_rss_kib_after":\#(peakRSSKiB())}"#)
}

func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}

func printUsage() {
    print("usage: pingroll-bench rollup-cost [--pings N] [--installations N] [--batch N] [--payload-bytes N]")
    print("       pingroll-bench query-cost [--pings N] [--runs N] [--postgres URL]")
    print("       pingroll-bench beta-export [--enrollments N]")
    print("       pingroll-bench generate [--count N] [--bytes B] [--installations K] [--template]")
    print("       pingroll-bench extract [--bytes B] [--millis MS]")
    print("       pingroll-bench storage [--installations N] [--weeks W] [--bytes B]")
    print("       pingroll-bench retention --postgres URL [--pings N]")
}

// --help anywhere is help, never a benchmark run or 150 KB of generated payload.
if CommandLine.arguments.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" }) {
    printUsage()
    exit(0)
}

switch CommandLine.arguments.dropFirst().first {
case "rollup-cost": try rollupCost()
case "query-cost": try queryCost()
case "beta-export": try betaExport()
case "generate": generate()
case "extract": try extractSpeed()
case "storage": try storageBench()
case "retention": try retentionBench()
default:
    printUsage()
    exit(2)
}
