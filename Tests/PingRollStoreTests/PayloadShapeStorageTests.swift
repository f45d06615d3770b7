import Foundation
import Synchronization
import Testing
import PingRollCore
@testable import PingRollStore

/// Pings are stored as a values stream plus a skeleton kept once per shape, and come back byte
/// for byte; rows stored whole before keep reading as they are.
@Suite struct PayloadShapeStorageTests {
    static let catalog = try! MetricCatalog(metrics: [
        MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean),
        MetricDefinition(keyPath: "active_user_count", valueType: .number),
    ])

    static func fixtures() throws -> [[UInt8]] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("PingRollCoreTests/Fixtures")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
            .map { Array(try Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    static func record(_ bytes: [UInt8], shaped: Bool = true) throws -> WriteItem {
        let facts = try PayloadExtractor(catalog: catalog).extract(bytes, receivedAt: .now())
        return .ping(PingRecord(facts: facts, receivedAt: .now(), payload: shaped ? PayloadCodec.compressPing(bytes) : PayloadCodec.compress(bytes)))
    }

    /// The same document with another uuid and recorded_at: the next week of another installation.
    static func variant(_ bytes: [UInt8], _ n: Int) -> [UInt8] {
        var text = String(decoding: bytes, as: UTF8.self)
        let key = text.range(of: #""uuid":\s*""#, options: .regularExpression)!
        let end = text[key.upperBound...].firstIndex(of: "\"")!
        text.replaceSubrange(key.upperBound..<end, with: "variant-\(n)")
        return Array(text.utf8)
    }

    func storedIDs(_ outcomes: [WriteOutcome]) -> [Int64] {
        outcomes.compactMap { if case .stored(let id) = $0 { id } else { nil } }
    }

    @Test(arguments: Backend.available)
    func everyFixtureComesBackByteForByteAndSharesItsSkeleton(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        _ = try store.prepareRollups()
        let fixtures = try Self.fixtures()
        var originals: [[UInt8]] = []
        for (i, bytes) in fixtures.enumerated() { originals += [bytes, Self.variant(bytes, i)] }
        let ids = storedIDs(try store.write(try originals.map { try Self.record($0) }))
        #expect(ids.count == originals.count)
        for (id, original) in zip(ids, originals) { #expect(try store.ping(id: id)?.payload == original) }
        let encodings = try db.sql("SELECT DISTINCT payload_encoding FROM pings").map { $0[0].string }
        #expect(encodings == ["shape-zstd"])
        // A fixture and its variant share one skeleton (and fixtures of the same shape share theirs):
        // one row per distinct skeleton.
        let distinct = Set(fixtures.map { JSONShape.split($0)!.skeleton })
        let shapes = try db.sql("SELECT COUNT(*) FROM payload_shapes").first?[0].int64
        #expect(shapes == Int64(distinct.count) && distinct.count < originals.count, "\(String(describing: shapes)) shapes for \(distinct.count) skeletons")
        #expect(try store.verifyRollups(progress: nil).differences.isEmpty)
    }

    @Test(arguments: Backend.available)
    func pingsStoredWholeBeforeStillReadAndVerify(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        _ = try store.prepareRollups()
        let bytes = try Self.fixtures()[0]
        let ids = storedIDs(try store.write([try Self.record(bytes, shaped: false), try Self.record(Self.variant(bytes, 1))]))
        #expect(try store.ping(id: ids[0])?.payload == bytes)
        #expect(try store.ping(id: ids[1])?.payload == Self.variant(bytes, 1))
        #expect(try db.sql("SELECT payload_encoding FROM pings ORDER BY id").map { $0[0].string } == ["zstd", "shape-zstd"])
        _ = try store.rebuildRollups(metrics: nil, progress: nil)
        #expect(try store.verifyRollups(progress: nil).differences.isEmpty)
    }

    /// A stored skeleton with the same hash and size but other bytes (a collision) is never
    /// taken for the ping's own.
    @Test(arguments: Backend.available)
    func aSkeletonWithTheSameHashButOtherBytesIsNotUsed(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        let bytes = try Self.fixtures()[1]
        let skeleton = try #require(JSONShape.split(bytes)).skeleton
        var impostor = skeleton
        impostor[impostor.count / 2] = impostor[impostor.count / 2] == 0x20 ? 0x0A : 0x20
        try db.sql("INSERT INTO payload_shapes (hash, size, skeleton, created_at) VALUES ($1, $2, $3, 0)",
                   [.integer(Int64(bitPattern: JSONShape.hash(skeleton))), .integer(Int64(skeleton.count)), .blob(PayloadCodec.compress(impostor).bytes)])
        let ids = storedIDs(try store.write([try Self.record(bytes)]))
        #expect(try store.ping(id: ids[0])?.payload == bytes)
        #expect(try db.sql("SELECT COUNT(*) FROM payload_shapes").first?[0].int64 == 2)
    }

    @Test func aShapedPayloadWithoutItsSkeletonOrWithDamagedValuesIsCorruptNotATrap() throws {
        let bytes = try Self.fixtures()[0]
        var packed = PayloadCodec.compressPing(bytes)
        #expect(packed.encoding == "shape-zstd" && packed.bytes.count * 4 < bytes.count)
        #expect(try PayloadCodec.decompress(packed) == bytes)
        let skeleton = packed.skeleton
        packed.skeleton = nil
        #expect(throws: StorageError.self) { try PayloadCodec.decompress(packed) }
        packed.skeleton = skeleton.map { Array($0.dropLast(3)) }
        #expect(throws: StorageError.self) { try PayloadCodec.decompress(packed) }
        packed.skeleton = skeleton
        packed.originalSize += 1
        #expect(throws: StorageError.self) { try PayloadCodec.decompress(packed) }
    }

    @Test(arguments: Backend.available)
    func recompressRewritesWholePingsInSmallTransactionsAndTheyReadTheSame(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        _ = try store.prepareRollups()
        let fixtures = try Self.fixtures()
        let whole = try fixtures.prefix(3).map { try Self.record($0, shaped: false) }
        let ids = storedIDs(try store.write(whole + [try Self.record(Self.variant(fixtures[0], 9))]))
        let before = try ids.map { try store.ping(id: $0)?.payload }
        let steps = Mutex(0)
        let report = try store.recompressPayloads(batch: 1) { _ in steps.withLock { $0 += 1 } }
        #expect(report.rewritten == 3 && report.kept == 0 && report.bytesAfter < report.bytesBefore)
        #expect(steps.withLock { $0 } >= 3)
        #expect(try ids.map { try store.ping(id: $0)?.payload } == before)
        #expect(try db.sql("SELECT DISTINCT payload_encoding FROM pings").map { $0[0].string } == ["shape-zstd"])
        #expect(try store.recompressPayloads(batch: 100, progress: nil).rewritten == 0)
        #expect(try store.verifyRollups(progress: nil).differences.isEmpty)
    }
}