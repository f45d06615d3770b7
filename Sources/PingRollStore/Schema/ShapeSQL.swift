import PingRollCore

/// Maps payload skeletons to their `payload_shapes` ids for the writer, and reads skeletons back.
///
/// A skeleton is looked up by its 64-bit hash and then compared byte for byte, so a hash
/// collision costs a second row, never a wrong payload. Rows are never changed once written, so
/// cached ids stay valid across transactions; after a failed transaction `reset` drops ids that
/// may have been rolled back. The cache is bounded in bytes.
final class ShapeRegistry: @unchecked Sendable {
    // Used only while holding the store's writer lock (or a single-threaded command).
    private var byHash: [UInt64: [(id: Int64, skeleton: [UInt8])]] = [:]
    private var cachedBytes = 0
    static let maxCachedBytes = 64 << 20

    /// The shape id of a `shape-zstd` payload's skeleton (stored now if new); nil for a payload
    /// stored whole. Uses the hash and compressed skeleton the payload carries from `compressPing`.
    func id(for payload: CompressedPayload, _ executor: any SQLExecutor) throws(StorageError) -> Int64? {
        guard let skeleton = payload.skeleton else { return nil }
        let compressed = payload.compressedSkeleton
        let hash = payload.skeletonHash ?? JSONShape.hash(skeleton)
        if let id = byHash[hash]?.first(where: { $0.skeleton == skeleton })?.id { return id }
        let op = "storing a payload shape"
        let key = Int64(bitPattern: hash)
        var found: Int64?
        for r in try ShapeSQL.columns.select(executor, "FROM payload_shapes WHERE hash = $1 AND size = $2 ORDER BY id",
                                             [.integer(key), .integer(Int64(skeleton.count))], operation: op) {
            if try ShapeSQL.skeleton(r, op) == skeleton { found = try r.requiredInt64("id"); break }
        }
        let id: Int64
        if let found {
            id = found
        } else {
            // Level 1 like the values: a new skeleton may come with every ping of an unusual sender.
            let stored = compressed ?? PayloadCodec.compress(skeleton).bytes
            id = try executor.scalarInt64("INSERT INTO payload_shapes (hash, size, skeleton, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                                          [.integer(key), .integer(Int64(skeleton.count)), .blob(stored), .integer(Timestamp.now().milliseconds)],
                                          operation: op)
        }
        if cachedBytes + skeleton.count > Self.maxCachedBytes { reset() }
        PayloadCodec.knownSkeletons.insert(hash)
        byHash[hash, default: []].append((id, skeleton))
        cachedBytes += skeleton.count
        return id
    }

    func reset() {
        byHash.removeAll()
        cachedBytes = 0
    }
}

enum ShapeSQL {
    static let columns = ColumnList(["id", "size", "skeleton"])

    /// A row's skeleton, decompressed and checked against its recorded size.
    static func skeleton(_ r: NamedRow, _ op: String) throws(StorageError) -> [UInt8] {
        guard let bytes = try r.value("skeleton").bytes else { throw StorageError(.corrupt, operation: op, reason: "a payload shape has no skeleton") }
        return try PayloadCodec.zstdDecompress(bytes, size: Int(clamping: try r.requiredInt64("size")))
    }

    /// The skeleton of shape `id`.
    static func skeleton(id: Int64, _ executor: any SQLExecutor) throws(StorageError) -> [UInt8] {
        let op = "reading a payload shape"
        guard let r = try columns.select(executor, "FROM payload_shapes WHERE id = $1", [.integer(id)], operation: op).first else {
            throw StorageError(.corrupt, operation: op, reason: "payload shape \(id) is missing")
        }
        return try skeleton(r, op)
    }
}

/// Skeletons read during one long read (a rebuild, a verify, a recompress), bounded in bytes.
final class SkeletonReadCache {
    private var skeletons: [Int64: [UInt8]] = [:]
    private var bytes = 0
    private let maxBytes: Int

    /// The history scans (rebuild, verify) read the pings installation by installation, whose
    /// pings mostly share a skeleton: a few MiB hold what they reuse.
    static let scanBytes = 8 << 20

    init(maxBytes: Int = ShapeRegistry.maxCachedBytes) { self.maxBytes = maxBytes }

    func skeleton(_ id: Int64, _ executor: any SQLExecutor) throws(StorageError) -> [UInt8] {
        if let s = skeletons[id] { return s }
        let s = try ShapeSQL.skeleton(id: id, executor)
        if bytes + s.count > maxBytes { skeletons.removeAll(); bytes = 0 }
        skeletons[id] = s
        bytes += s.count
        return s
    }

    /// A stored ping's payload from its row (`payload_encoding`, `payload_size`, `payload`, `shape_id`).
    func payload(_ r: NamedRow, _ executor: any SQLExecutor, _ op: String) throws(StorageError) -> [UInt8] {
        try PayloadCodec.decompress(try compressed(r, executor, op))
    }

    /// A stored ping's payload as stored, with its skeleton, ready for `PayloadCodec.decompress`
    /// on any thread.
    func compressed(_ r: NamedRow, _ executor: any SQLExecutor, _ op: String) throws(StorageError) -> CompressedPayload {
        let encoding = try r.requiredString("payload_encoding")
        let size = Int(clamping: try r.requiredInt64("payload_size"))
        if encoding == CompressedPayload.dropped { return CompressedPayload(encoding: encoding, originalSize: size, bytes: []) }
        guard let bytes = try r.value("payload").bytes else { throw StorageError(.corrupt, operation: op, reason: "a ping has no payload") }
        var skeleton: [UInt8]?
        if encoding == CompressedPayload.shapeZstd {
            guard let id = try r.int64("shape_id") else { throw StorageError(.corrupt, operation: op, reason: "a shaped payload has no shape_id") }
            skeleton = try self.skeleton(id, executor)
        }
        return CompressedPayload(encoding: encoding, originalSize: size, bytes: bytes, skeleton: skeleton)
    }
}

extension SQLBackedStore {
    public func recompressPayloads(batch: Int, progress: (@Sendable (PayloadRecompression) -> Void)?) throws(StorageError) -> PayloadRecompression {
        let op = "recompressing payloads"
        let columns = ColumnList(["id", "payload_encoding", "payload_size", "payload", "shape_id"])
        let registry = ShapeRegistry()
        var report = PayloadRecompression()
        var after: Int64 = 0
        // Transactions of about 100 ms each, of at most `batch` pings.
        var pacing = WriterPacing(initial: 8, maxSize: max(1, batch), contended: otherWritersActive)
        while true {
            let step = try pacing.step { size throws(StorageError) in try writeTransaction(op) { e throws(StorageError) -> ((PayloadRecompression, Int64?), units: Int) in
                var step = PayloadRecompression()
                var last: Int64?
                let reader = SkeletonReadCache()
                for r in try columns.select(e, "FROM pings WHERE id > $1 AND payload_encoding = $2 ORDER BY id LIMIT $3",
                                            [.integer(after), .text(CompressedPayload.zstd), .integer(Int64(size))], operation: op) {
                    let id = try r.requiredInt64("id")
                    last = id
                    let before = try r.value("payload").bytes?.count ?? 0
                    let packed = PayloadCodec.compressPing(try reader.payload(r, e, op))
                    guard let shape = try registry.id(for: packed, e) else { step.kept += 1; continue }
                    try e.query("UPDATE pings SET payload_encoding = $2, payload = $3, shape_id = $4 WHERE id = $1 AND payload_encoding = $5",
                                [.integer(id), .text(packed.encoding), .blob(packed.bytes), .integer(shape), .text(CompressedPayload.zstd)], operation: op)
                    step.rewritten += 1
                    step.bytesBefore += Int64(before)
                    step.bytesAfter += Int64(packed.bytes.count)
                }
                return ((step, last), step.rewritten + step.kept)
            } }
            report.rewritten += step.0.rewritten
            report.kept += step.0.kept
            report.bytesBefore += step.0.bytesBefore
            report.bytesAfter += step.0.bytesAfter
            progress?(report)
            guard let last = step.1 else { return report }
            after = last
        }
    }
}
