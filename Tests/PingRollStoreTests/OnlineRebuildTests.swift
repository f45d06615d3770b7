import Foundation
import Synchronization
import Testing
import PingRollCore
@testable import PingRollStore

/// `rollup rebuild` runs in short transactions while pings keep arriving: whatever side of the
/// rebuild's cursor a ping lands on, it is counted once.
@Suite struct OnlineRebuildTests {
    typealias Spec = RollupPropertyTests.Spec
    static let catalog = RollupPropertyTests.catalog
    static let now = Timestamp.parseISO8601("2025-06-01T00:00:00Z")!

    static func items(_ specs: some Sequence<Spec>, _ extractor: PayloadExtractor) throws -> [WriteItem] {
        try specs.map { s in
            let bytes = Array(s.json.utf8)
            return .ping(PingRecord(facts: try extractor.extract(bytes, receivedAt: now), receivedAt: now, payload: PayloadCodec.compressPing(bytes)))
        }
    }

    /// Pings still to arrive, handed out a few at a time from the rebuild's progress callback.
    final class Arrivals: Sendable {
        private let state: Mutex<(specs: [Spec], rng: SplitMix, batches: Int)>
        let store: any PingStore
        let extractor: PayloadExtractor

        init(_ specs: [Spec], store: any PingStore, seed: UInt64) {
            state = Mutex((specs, SplitMix(state: seed), 0))
            self.store = store
            extractor = PayloadExtractor(catalog: store.catalog)
        }

        /// Stores the next 1–3 pings (or `all`), as a client would between two rebuild transactions.
        func deliver(all: Bool = false) {
            let batch = state.withLock { s -> [Spec] in
                let n = all ? s.specs.count : min(s.specs.count, Int.random(in: 1...3, using: &s.rng))
                let batch = Array(s.specs.prefix(n))
                s.specs.removeFirst(n)
                if !batch.isEmpty { s.batches += 1 }
                return batch
            }
            guard !batch.isEmpty else { return }
            // A failed write fails the test through the count check below.
            _ = try? store.write(try OnlineRebuildTests.items(batch, extractor))
        }

        var batchesDelivered: Int { state.withLock { $0.batches } }
        var left: Int { state.withLock { $0.specs.count } }
    }

    /// A store holding one random stream's pings, its rollups prepared.
    func seeded(_ backend: Backend, seed: UInt64) throws -> (specs: [Spec], db: TestDatabase, store: any PingStore) {
        var rng = SplitMix(state: seed)
        let specs = RollupPropertyTests.randomStream(&rng)
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        _ = try store.prepareRollups()
        _ = try store.write(try Self.items(specs, PayloadExtractor(catalog: Self.catalog)))
        return (specs, db, store)
    }

    /// The live cells equal the reference computed from every spec that arrived, and verify agrees.
    func expectExact(_ store: any PingStore, _ db: TestDatabase, _ specs: [Spec], _ context: String) throws {
        let expected = RollupPropertyTests.reference(specs, admitted: try RollupPropertyTests.admittedValues(db))
        let live = try store.rollupCells(metrics: nil)
        let differing = expected.filter { live[$0.key] != $0.value }
        let extra = live.filter { expected[$0.key] == nil }
        #expect(differing.isEmpty && extra.isEmpty,
                "\(context): \(differing.count) cells differ, e.g. \(differing.first.map { "\($0.key) expected \($0.value) live \(String(describing: live[$0.key]))" } ?? "-"); \(extra.count) extra")
        let verification = try store.verifyRollups(progress: nil)
        #expect(verification.isClean, "\(context): \(verification.differences.prefix(3)) stale \(verification.stale) rebuilding \(verification.rebuilding)")
    }

    @Test(arguments: Backend.available, [true, false])
    func pingsStoredBetweenRebuildTransactionsAreCountedExactlyOnce(backend: Backend, full: Bool) throws {
        for seed in UInt64(1)...6 {
            var rng = SplitMix(state: seed)
            let specs = RollupPropertyTests.randomStream(&rng)
            let db = TestDatabase(backend)
            let store = try db.open(catalog: Self.catalog)
            defer { store.close() }
            _ = try store.prepareRollups()
            let half = specs.count / 2
            _ = try store.write(try Self.items(specs[..<half], PayloadExtractor(catalog: Self.catalog)))
            let arrivals = Arrivals(Array(specs[half...]), store: store, seed: seed)
            let report = try store.rebuildRollups(metrics: full ? nil : ["active_user_count", "container_registry_server.version"],
                                                  chunkPings: 3, progress: { _ in arrivals.deliver() }, stop: nil)
            #expect(report.transactions >= 3 && arrivals.batchesDelivered >= 2, "seed \(seed): \(report)")
            arrivals.deliver(all: true)
            try expectExact(store, db, specs, "seed \(seed), \(full ? "full" : "metrics") rebuild")
        }
    }

    @Test(arguments: Backend.available)
    func writesOnAnotherThreadThroughoutARebuildAreCountedExactlyOnce(backend: Backend) throws {
        var rng = SplitMix(state: 77)
        var specs: [Spec] = []
        while specs.count < 300 { specs += RollupPropertyTests.randomStream(&rng) }
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        _ = try store.prepareRollups()
        _ = try store.write(try Self.items(specs[..<150], PayloadExtractor(catalog: Self.catalog)))
        let arrivals = Arrivals(Array(specs[150...]), store: store, seed: 78)
        let done = Atomic<Bool>(false)
        let writer = Thread {
            while !done.load(ordering: .relaxed) && arrivals.left > 0 { arrivals.deliver() }
        }
        writer.start()
        let report = try store.rebuildRollups(metrics: nil, chunkPings: 4, progress: nil, stop: nil)
        done.store(true, ordering: .relaxed)
        while writer.isExecuting { Thread.sleep(forTimeInterval: 0.01) }
        arrivals.deliver(all: true)
        #expect(report.transactions > 3)
        try expectExact(store, db, specs, "concurrent writer")
    }

    @Test(arguments: Backend.available)
    func aStoppedRebuildIsContinuedByTheNextRunAndVerifySaysItIsUnfinished(backend: Backend) throws {
        var rng = SplitMix(state: 5)
        let specs = RollupPropertyTests.randomStream(&rng)
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        _ = try store.prepareRollups()
        let extractor = PayloadExtractor(catalog: Self.catalog)
        _ = try store.write(try Self.items(specs.prefix(specs.count - 5), extractor))
        let stopped = try store.rebuildRollups(metrics: ["active_user_count"], chunkPings: 2, progress: nil, stop: { true })
        #expect(stopped.stopped && stopped.transactions == 2 && stopped.pings >= 2)
        let unfinished = try store.verifyRollups(progress: nil)
        #expect(!unfinished.isClean && unfinished.rebuilding == ["active_user_count"] && unfinished.differences.isEmpty, "\(unfinished)")
        #expect(try store.prepareRollups().contains("active_user_count"), "serve is told to finish it")
        _ = try store.write(try Self.items(specs.suffix(5), extractor))

        let resumed = try store.rebuildRollups(metrics: ["active_user_count"], chunkPings: 2, progress: nil, stop: nil)
        #expect(resumed.resumed && !resumed.stopped && resumed.pings > stopped.pings, "\(resumed)")
        try expectExact(store, db, specs, "resumed")
        #expect(try db.sql("SELECT COUNT(*) FROM rollup_rebuild").first?[0].int64 == 0)
    }

    @Test(arguments: Backend.available)
    func aSecondRebuildIsRefusedWhileOneIsRunningAndTakesOverOneThatDied(backend: Backend) throws {
        let (specs, db, store) = try seeded(backend, seed: 9)
        defer { store.close() }
        _ = try store.rebuildRollups(metrics: nil, chunkPings: 3, progress: nil, stop: { true })
        // As if that run were still working: its heartbeat is fresh.
        _ = try db.sql("UPDATE rollup_rebuild SET heartbeat_at = $1", [.integer(Timestamp.now().milliseconds)])
        #expect {
            _ = try store.rebuildRollups(metrics: nil, chunkPings: 3, progress: nil, stop: nil)
        } throws: { error in
            "\(error)".contains("another rollup rebuild is running (a full rebuild, started ")
        }
        // A run that died a while ago is taken over and finished.
        _ = try db.sql("UPDATE rollup_rebuild SET heartbeat_at = $1", [.integer(Timestamp.now().milliseconds - 120_000)])
        let report = try store.rebuildRollups(metrics: nil, chunkPings: 3, progress: nil, stop: nil)
        #expect(report.resumed)
        try expectExact(store, db, specs, "taken over")
    }

    @Test(arguments: Backend.available)
    func aDifferentRebuildReplacesAnUnfinishedOneWhoseMetricsThenStayStale(backend: Backend) throws {
        let (specs, db, store) = try seeded(backend, seed: 11)
        defer { store.close() }
        _ = try store.rebuildRollups(metrics: ["active_user_count"], chunkPings: 2, progress: nil, stop: { true })
        let other = try store.rebuildRollups(metrics: ["counts.packages"], chunkPings: 2, progress: nil, stop: nil)
        #expect(!other.resumed && !other.stopped)
        #expect(try store.prepareRollups() == ["active_user_count"])
        let verification = try store.verifyRollups(progress: nil)
        #expect(verification.stale == ["active_user_count"] && verification.differences.isEmpty && verification.rebuilding.isEmpty)
        _ = try store.rebuildRollups(metrics: ["active_user_count"], progress: nil)
        try expectExact(store, db, specs, "after both")
    }

    @Test(arguments: Backend.available)
    func aWriterWhoseCatalogDefinesARebuiltMetricDifferentlyFailsTheRebuildInsteadOfCountingWrong(backend: Backend) throws {
        let (specs, db, store) = try seeded(backend, seed: 13)
        defer { store.close() }
        // Another collector on the same database, whose catalog counts active users by week only.
        var metrics = Self.catalog.metrics
        let k = metrics.firstIndex { $0.keyPath == "active_user_count" }!
        metrics[k] = MetricDefinition(keyPath: "active_user_count", valueType: .number, periods: [.week], dataCategory: .optional)
        let otherCatalog = try MetricCatalog(metrics: metrics)
        let other = try db.open(catalog: otherCatalog, migrate: false)
        defer { other.close() }
        // A later ping of the installation the rebuild reads first, stored after its first transaction.
        var later = specs.first!
        later.recordedAt += 86_400_000 * 60
        let late = later
        let delivered = Mutex(false)
        let otherExtractor = PayloadExtractor(catalog: otherCatalog)
        #expect {
            _ = try store.rebuildRollups(metrics: ["active_user_count"], chunkPings: 1, progress: { _ in
                guard !delivered.withLock({ let was = $0; $0 = true; return was }) else { return }
                do { _ = try other.write(try Self.items([late], otherExtractor)) } catch { Issue.record("the other collector's write failed: \(error)") }
            }, stop: nil)
        } throws: { error in
            "\(error)".contains("defines active_user_count differently")
        }
        #expect(try store.prepareRollups() == ["active_user_count"], "left stale, not marked built")
        _ = try store.rebuildRollups(metrics: ["active_user_count"], progress: nil)
        try expectExact(store, db, specs + [late], "rebuilt again")
    }
}
