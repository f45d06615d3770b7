import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// pingroll's own annotations are written as things happen, each once; manual ones are added
/// and deleted by hand. Both backends.
@Suite struct AnnotationTests {
    static let catalog = try! MetricCatalog(metrics: [MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean)])

    static func ping(_ uuid: String, recorded: Int64, received: Int64, version: String = "16.5.1-ee") -> WriteItem {
        var r = pingRecord(uuid: uuid, hostname: "h", recordedAt: Timestamp(milliseconds: recorded).description, version: version)
        r.receivedAt = Timestamp(milliseconds: received)
        return .ping(r)
    }

    @Test(arguments: Backend.available)
    func eachAutomaticKindIsWrittenOnce(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        let hour: Int64 = 3_600_000, day = 24 * hour
        let t0 = Timestamp.parseISO8601("2025-03-03T00:00:00Z")!.milliseconds
        // A busy week (two pings an hour), in two batches from two versions.
        var items: [WriteItem] = []
        for i in 0..<(7 * 24 * 2) { items.append(Self.ping("u\(i % 50)-\(i)", recorded: t0 + Int64(i) * hour / 2, received: t0 + Int64(i) * hour / 2,
                                                           version: i < 10 ? "16.4.0-ee" : "16.5.1-ee")) }
        _ = try store.write(Array(items.prefix(100)))
        _ = try store.write(Array(items.dropFirst(100)))
        let lastReceived = t0 + Int64(7 * 24 * 2 - 1) * hour / 2
        // Then nothing for seven hours, and ingest resumes (twice: the gap is recorded once).
        _ = try store.write([Self.ping("late", recorded: lastReceived + 7 * hour, received: lastReceived + 7 * hour, version: "17.0.0-ee")])
        _ = try store.write([Self.ping("later", recorded: lastReceived + 8 * hour, received: lastReceived + 8 * hour, version: "17.0.0-ee")])
        let all = try store.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: t0 + 30 * day), metric: nil)
        let releases = all.filter { $0.kind == .release }.map(\.text).sorted()
        #expect(releases == ["first ping from 16.4", "first ping from 16.5", "first ping from 17.0"], "\(releases)")
        #expect(all.first { $0.text == "first ping from 16.4" }?.at.milliseconds == t0)
        let gaps = all.filter { $0.kind == .ingestGap }
        #expect(gaps.count == 1 && gaps.first?.at.milliseconds == lastReceived && gaps.first?.text == "no ping accepted for 7 h 0 min", "\(gaps)")

        // A retention run that drops payloads.
        _ = try store.applyRetention(RetentionPolicy(payloadDays: 30, reportDays: nil), now: Timestamp(milliseconds: t0 + 60 * day), dryRun: false,
                                     batch: 1000, progress: nil)
        _ = try store.applyRetention(RetentionPolicy(payloadDays: 30, reportDays: nil), now: Timestamp(milliseconds: t0 + 61 * day), dryRun: false,
                                     batch: 1000, progress: nil)
        let retention = try store.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: Timestamp.now().milliseconds + 86_400_000), metric: nil).filter { $0.kind == .retention }
        #expect(retention.count == 1 && retention[0].text.hasPrefix("retention dropped the raw payloads of 338 pings"), "the second run dropped nothing: \(retention)")

        // A metric added while pings exist: once per definition, about that metric.
        var grown = Self.catalog.metrics
        grown.append(MetricDefinition(keyPath: "geo_enabled", valueType: .boolean))
        _ = try store.replaceCatalog(try MetricCatalog(metrics: grown))
        _ = try store.replaceCatalog(try MetricCatalog(metrics: grown))
        let catalog = try store.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: Timestamp.now().milliseconds + 86_400_000), metric: "geo_enabled").filter { $0.kind == .catalog }
        #expect(catalog.count == 1 && catalog[0].metric == "geo_enabled", "\(catalog)")
        _ = try store.rebuildRollups(metrics: ["geo_enabled"], chunkPings: 1000, progress: nil, stop: nil)
        let rebuilt = try store.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: Timestamp.now().milliseconds + 86_400_000), metric: "geo_enabled").filter { $0.kind == .catalog }
        #expect(rebuilt.count == 2 && rebuilt.contains { $0.text.hasPrefix("rollup rebuild of geo_enabled finished") }, "\(rebuilt)")

        // Manual ones are deleted by hand; pingroll's own are kept.
        let manual = try store.addAnnotation(Annotation(at: Timestamp(milliseconds: t0), kind: .release, text: "we announced the beta", metric: nil))
        #expect(manual.kind == .manual && manual.id > 0)
        #expect(try store.deleteAnnotation(id: manual.id) == true)
        #expect(try store.deleteAnnotation(id: manual.id) == nil)
        #expect(try store.deleteAnnotation(id: gaps[0].id) == false)
    }

    /// Two collectors on one database (two stores: on PostgreSQL two connection pools, as two
    /// processes have), and a restart: a release both see is written once; a collector that was
    /// idle while the other stored pings finds no gap in ingest, and a real gap across a restart is
    /// written once.
    @Test(arguments: Backend.available)
    func twoCollectorsAndARestartWriteEachAnnotationOnce(backend: Backend) throws {
        let db = TestDatabase(backend)
        let a = try db.open(catalog: Self.catalog)
        let b = try db.open(catalog: Self.catalog, migrate: false)
        let hour: Int64 = 3_600_000
        let t0 = Timestamp.parseISO8601("2025-03-03T00:00:00Z")!.milliseconds
        // A busy week through a; then b alone for eight hours, every hour; then a again.
        _ = try a.write((0..<(7 * 24 * 2)).map { Self.ping("w\($0)", recorded: t0 + Int64($0) * hour / 2, received: t0 + Int64($0) * hour / 2) })
        let weekEnd = t0 + Int64(7 * 24 * 2 - 1) * hour / 2
        for i in 1...8 { _ = try b.write([Self.ping("b\(i)", recorded: weekEnd + Int64(i) * hour, received: weekEnd + Int64(i) * hour, version: "17.1.0-ee")]) }
        _ = try a.write([Self.ping("a-back", recorded: weekEnd + 9 * hour, received: weekEnd + 9 * hour, version: "17.1.0-ee")])
        var all = try a.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: weekEnd + 100 * hour), metric: nil)
        #expect(all.filter { $0.kind == .ingestGap }.isEmpty, "b stored pings every hour: \(all)")
        #expect(all.filter { $0.text == "first ping from 17.1" }.count == 1)
        // A restart of both after seven quiet hours: the gap is written once, by whichever writes first.
        a.close()
        b.close()
        let a2 = try db.open(catalog: Self.catalog, migrate: false)
        let b2 = try db.open(catalog: Self.catalog, migrate: false)
        defer { a2.close(); b2.close() }
        _ = try b2.write([Self.ping("b-late", recorded: weekEnd + 16 * hour, received: weekEnd + 16 * hour, version: "17.1.0-ee")])
        _ = try a2.write([Self.ping("a-late", recorded: weekEnd + 16 * hour + 60_000, received: weekEnd + 16 * hour + 60_000, version: "17.1.0-ee")])
        all = try a2.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: weekEnd + 100 * hour), metric: nil)
        let gaps = all.filter { $0.kind == .ingestGap }
        #expect(gaps.count == 1 && gaps.first?.at.milliseconds == weekEnd + 9 * hour && gaps.first?.text == "no ping accepted for 7 h 0 min", "\(gaps)")
        #expect(all.filter { $0.text == "first ping from 17.1" }.count == 1)
    }
}

