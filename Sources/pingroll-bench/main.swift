// pingroll-bench: benchmarks that print figures next to a ceiling measured in the same run.
//
//   pingroll-bench rollup-cost [--pings N] [--installations N] [--batch N] [--payload-bytes N]
//
// rollup-cost: the same extracted pings are written through the store twice, into a fresh
// database without a catalog (no rollups: the ceiling) and into one with the shipped catalog;
// prints pings/s for both, the ratio, and the rollup rows touched per ping.
import Foundation
import PingRollCore
import PingRollStore

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}

func findCatalog() -> MetricCatalog {
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 {
        let path = dir.appendingPathComponent("schemas/metrics.catalog.json").path
        if let data = FileManager.default.contents(atPath: path), let c = try? MetricCatalog(json: Array(data)) { return c }
        dir = dir.deletingLastPathComponent()
    }
    fatalError("run from the repository: schemas/metrics.catalog.json not found")
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
        try store.migrate()
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
    print(String(format: "rollup cell upserts: %.1f per ping (%d metrics x 3 periods, batch of %d); rollup_latest: 3 reads + 3 writes per ping",
                 Double(cells) / Double(pings), catalog.metrics.count, batchSize))
    if let verify { print("verify after the run: \(verify.isClean ? "clean" : "\(verify.differences.count) differences")") }
    print(#"{"bench":"rollup-cost","pings":\#(pings),"installations":\#(installations),"batch":\#(batchSize),"without_pings_per_s":\#(Int(ceiling)),"with_pings_per_s":\#(Int(withRollups)),"ratio":\#(String(format: "%.3f", ratio)),"cell_upserts_per_ping":\#(String(format: "%.2f", Double(cells) / Double(pings)))}"#)
}

switch CommandLine.arguments.dropFirst().first {
case "rollup-cost": try rollupCost()
default:
    print("usage: pingroll-bench rollup-cost [--pings N] [--installations N] [--batch N] [--payload-bytes N]")
    exit(2)
}
