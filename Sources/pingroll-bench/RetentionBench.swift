import Foundation
import PingRollCore
import PingRollStore

/// `retention --postgres URL [--pings N]`: N pings over four months (January to April 2024) in
/// two fresh schemas. In one, `applyRetention` drops January to March: whole months by partition
/// swap, while a writer keeps storing April pings (its slowest batch is the stall retention
/// causes). In the other, one raw `UPDATE` of the same rows: the ceiling. Prints pings/s of
/// both, the ratio, the writer's slowest batch, and that `rollup verify` stays clean.
func retentionBench() throws {
    guard let url = stringOption("--postgres") else {
        print("retention: give --postgres URL (SQLite's retention is measured by scripts/bench.sh (k))")
        exit(2)
    }
    let pings = option("--pings", 60_000)
    let catalog = findCatalog()
    let extractor = PayloadExtractor(catalog: catalog)
    let admin = try PostgresStore(url: url)
    defer { admin.close() }
    let run = UInt64.random(in: 1...UInt64.max) % 1_000_000
    func schemaURL(_ schema: String) -> String { url + (url.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)" }
    let received = Timestamp.parseISO8601("2024-06-01T00:00:00Z")!
    let january = Timestamp.parseISO8601("2024-01-01T00:00:00Z")!.milliseconds
    let installations = max(1, pings / 17)  // about 17 pings per installation in 17 weeks
    let record: @Sendable (Int, Int) throws -> WriteItem = { i, week in
        let at = Timestamp(milliseconds: january + Int64(week * 7 + (i % installations) % 7) * 86_400_000 + Int64(i % 86_400) * 1000)
        // makePayload spreads its pings over a year; this one goes into week `week` of 2024.
        let text = String(decoding: makePayload(index: i, installations: installations, bytes: 5_000), as: UTF8.self)
            .replacing(#/"recorded_at":"[^"]*"/#, with: #""recorded_at":"\#(at)""#)
        let bytes = Array(text.utf8)
        return .ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: received), receivedAt: received, payload: PayloadCodec.compressPing(bytes)))
    }
    func seed(_ schema: String) throws -> PostgresStore {
        _ = try admin.rawQuery("CREATE SCHEMA \(schema)", [])
        let store = try PostgresStore(url: schemaURL(schema), catalog: catalog)
        _ = try store.migrate()
        _ = try store.prepareRollups()
        var batch: [WriteItem] = []
        for i in 0..<pings {
            batch.append(try record(i, (i / installations) % 17))
            if batch.count == 1_000 { _ = try store.write(batch); batch.removeAll(keepingCapacity: true) }
        }
        if !batch.isEmpty { _ = try store.write(batch) }
        return store
    }
    let cut = Timestamp.parseISO8601("2024-04-01T00:00:00Z")!
    let now = Timestamp(milliseconds: cut.milliseconds + 30 * 86_400_000)
    print("seeding \(pings) pings (~5 KB) twice into PostgreSQL...")
    let a = try seed("bench_retention_\(run)_a"), b = try seed("bench_retention_\(run)_b")
    defer {
        a.close(); b.close()
        _ = try? admin.rawQuery("DROP SCHEMA bench_retention_\(run)_a CASCADE", [])
        _ = try? admin.rawQuery("DROP SCHEMA bench_retention_\(run)_b CASCADE", [])
    }

    // A writer storing April pings throughout; its slowest batch is what retention made it wait.
    let stop = ManagedAtomicFlag()
    let stalls = StallRecorder()
    let writer = Thread {
        var i = pings
        while !stop.isSet {
            let batch = (0..<50).compactMap { k in try? record(i + k, 14 + (i / 50) % 3) }
            let t = Date()
            _ = try? a.write(batch)
            stalls.add(Date().timeIntervalSince(t))
            i += 50
        }
    }
    writer.start()
    Thread.sleep(forTimeInterval: 0.5)
    var t = Date()
    let report = try a.applyRetention(RetentionPolicy(payloadDays: 30), now: now, dryRun: false, batch: RetentionPolicy.defaultBatch, progress: nil)
    let seconds = Date().timeIntervalSince(t)
    Thread.sleep(forTimeInterval: 0.5)
    stop.set()
    while !writer.isFinished { Thread.sleep(forTimeInterval: 0.01) }

    t = Date()
    let rows = try b.rawQuery("UPDATE pings SET payload = '\\x'::bytea, payload_encoding = 'dropped', shape_id = NULL WHERE recorded_at < $1 RETURNING id",
                              [.integer(cut.milliseconds)]).count
    let raw = Date().timeIntervalSince(t)
    let verify = try a.verifyRollups(progress: nil)
    let rate = Double(report.payloads) / seconds, rawRate = Double(rows) / raw
    print(String(format: "retention apply (PostgreSQL): %d payloads in %.2f s = %.0f pings/s; %d whole partitions (%@)",
                 report.payloads, seconds, rate, report.partitions.count, report.partitions.joined(separator: ", ")))
    print(String(format: "one raw UPDATE of the same rows (the ceiling): %d in %.2f s = %.0f pings/s; ratio %.2f", rows, raw, rawRate, rate / rawRate))
    print(String(format: "writer beside it: %d batches of 50, slowest %.0f ms, median %.0f ms", stalls.count, stalls.max * 1000, stalls.median * 1000))
    print("verify after retention: \(verify.isClean ? "clean" : "NOT clean") over \(verify.pings) pings")
    print(#"{"bench":"retention","backend":"postgresql","pings":\#(pings),"payloads":\#(report.payloads),"pings_per_s":\#(Int(rate)),"raw_update_pings_per_s":\#(Int(rawRate)),"ratio":\#(String(format: "%.3f", rate / rawRate)),"writer_slowest_batch_ms":\#(Int(stalls.max * 1000)),"verify_clean":\#(verify.isClean)}"#)
    if !verify.isClean { exit(1) }
}

final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

final class StallRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func add(_ v: Double) { lock.lock(); values.append(v); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return values.count }
    var max: Double { lock.lock(); defer { lock.unlock() }; return values.max() ?? 0 }
    var median: Double { lock.lock(); defer { lock.unlock() }; let s = values.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
}
