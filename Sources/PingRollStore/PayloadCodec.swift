import CZstd
import Synchronization
import PingRollCore

/// A raw payload as stored: compressed bytes plus what is needed to restore them.
public struct CompressedPayload: Sendable, Equatable {
    /// `zstd`: the whole payload, zstd-compressed. `shape-zstd`: the payload's values stream
    /// (`JSONShape`), zstd-compressed, with its skeleton stored once in `payload_shapes`.
    public var encoding: String
    public var originalSize: Int
    public var bytes: [UInt8]
    /// For `shape-zstd`: the skeleton, uncompressed (the writer stores it; a reader supplies it).
    public var skeleton: [UInt8]?
    /// `JSONShape.hash` of the skeleton, computed once on the request thread.
    public var skeletonHash: UInt64?
    /// The skeleton zstd-compressed for `payload_shapes`, made on the request thread when the
    /// skeleton was not seen before (so the single writer never compresses a whole skeleton).
    public var compressedSkeleton: [UInt8]?

    public init(encoding: String, originalSize: Int, bytes: [UInt8], skeleton: [UInt8]? = nil) {
        self.encoding = encoding
        self.originalSize = originalSize
        self.bytes = bytes
        self.skeleton = skeleton
    }

    public static let zstd = "zstd"
    public static let shapeZstd = "shape-zstd"
    /// No payload: retention dropped it (the ping keeps its facts and observations).
    public static let dropped = "dropped"
}

/// Compresses raw payloads for storage with zstd.
///
/// Level 1 by default: on this machine kind it compresses GitLab-shaped pings ~5× at ~380 MB/s,
/// so it can run on the request threads without becoming the bottleneck.
public enum PayloadCodec {
    public static let defaultLevel: Int32 = 1

    public static func compress(_ raw: [UInt8], level: Int32 = defaultLevel) -> CompressedPayload {
        let bound = ZSTD_compressBound(raw.count)
        let context = contexts.take()
        defer { contexts.put(context) }
        // Written into uninitialised capacity: no zero-fill of a buffer zstd overwrites anyway.
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            let written = raw.withUnsafeBytes { src in
                ZSTD_compressCCtx(context, buffer.baseAddress, bound, src.baseAddress, src.count, level)
            }
            // Compression of an in-memory buffer into a buffer of ZSTD_compressBound size cannot fail.
            precondition(ZSTD_isError(written) == 0, "zstd compression failed")
            count = written
        }
        return CompressedPayload(encoding: "zstd", originalSize: raw.count, bytes: out)
    }

    /// The size `raw` compresses to at `level`, with `dictionary` as zstd raw-content
    /// dictionary when given (the storage benchmark's alternatives; nothing is stored this way).
    public static func compressedSize(_ raw: [UInt8], dictionary: [UInt8]?, level: Int32) -> Int {
        let bound = ZSTD_compressBound(raw.count)
        let context = contexts.take()
        defer { contexts.put(context) }
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            raw.withUnsafeBytes { src in
                guard let dictionary else { return ZSTD_compressCCtx(context, dst.baseAddress, bound, src.baseAddress, src.count, level) }
                return dictionary.withUnsafeBytes { d in
                    ZSTD_compress_usingDict(context, dst.baseAddress, bound, src.baseAddress, src.count, d.baseAddress, d.count, level)
                }
            }
        }
        return ZSTD_isError(written) == 0 ? written : raw.count
    }

    /// Compression contexts, reused: creating one per payload cost about as much as compressing
    /// a 150 KB ping at level 1 (pingroll-bench storage measured it).
    static let contexts = ContextPool()

    /// Hashes of skeletons this process has stored or found stored: a ping whose skeleton is
    /// among them needs no compressed skeleton. Only a hint; the writer always checks.
    static let knownSkeletons = KnownHashes()

    /// A ping's JSON for storage: split into skeleton and values when it can be (`shape-zstd`),
    /// else compressed whole. Only the values (a fifth to a tenth of a ping) go through zstd
    /// per ping; the skeleton is shared by every ping of the same shape.
    public static func compressPing(_ json: [UInt8], level: Int32 = defaultLevel) -> CompressedPayload {
        guard let shape = JSONShape.split(json) else { return compress(json, level: level) }
        var values = compress(shape.values, level: level)
        values.encoding = CompressedPayload.shapeZstd
        values.originalSize = json.count
        values.skeleton = shape.skeleton
        let hash = JSONShape.hash(shape.skeleton)
        values.skeletonHash = hash
        if !knownSkeletons.contains(hash) { values.compressedSkeleton = compress(shape.skeleton, level: level).bytes }
        return values
    }

    /// Restores a payload; throws when the stored bytes are damaged (or a `shape-zstd` payload
    /// comes without its skeleton).
    public static func decompress(_ payload: CompressedPayload) throws(StorageError) -> [UInt8] {
        let op = "reading a payload"
        switch payload.encoding {
        case CompressedPayload.zstd:
            return try zstdDecompress(payload.bytes, size: payload.originalSize)
        case CompressedPayload.shapeZstd:
            guard let skeleton = payload.skeleton else { throw StorageError(.corrupt, operation: op, reason: "the payload's skeleton is missing") }
            // The values are at most the document's size; the frame says exactly how much.
            guard let size = ZstdFrame.contentSize(payload.bytes), size <= payload.originalSize else {
                throw StorageError(.corrupt, operation: op, reason: "the stored values do not decompress")
            }
            let values = try zstdDecompress(payload.bytes, size: size)
            do throws(JSONShape.JoinError) {
                return try JSONShape.join(skeleton: skeleton, values: values, expectedSize: payload.originalSize)
            } catch {
                throw StorageError(.corrupt, operation: op, reason: "the stored payload does not join: \(error)")
            }
        default:
            throw StorageError(.corrupt, operation: op, reason: "unknown payload encoding \(payload.encoding)")
        }
    }

    /// zstd-decompresses a frame of exactly `size` bytes.
    static func zstdDecompress(_ bytes: [UInt8], size expected: Int) throws(StorageError) -> [UInt8] {
        guard expected >= 0 else { throw StorageError(.corrupt, operation: "reading a payload", reason: "a negative stored size") }
        var out = [UInt8](repeating: 0, count: expected)
        let size = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        guard ZSTD_isError(size) == 0, size == expected else {
            throw StorageError(.corrupt, operation: "reading a payload", reason: "the stored payload does not decompress")
        }
        return out
    }
}

/// Facts read from a zstd frame header.
enum ZstdFrame {
    /// The decompressed size a frame declares, or nil when it declares none or is damaged.
    static func contentSize(_ bytes: [UInt8]) -> Int? {
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values.
        guard size < UInt64.max - 1, size <= UInt64(Int.max) else { return nil }
        return Int(size)
    }
}

/// A few zstd compression contexts shared by the request threads: take one, compress, put it back.
final class ContextPool: Sendable {
    private let free = Mutex<[UnsafeSendableContext]>([])
    private static let maxKept = 16

    struct UnsafeSendableContext: @unchecked Sendable { let pointer: OpaquePointer }

    func take() -> OpaquePointer {
        if let c = free.withLock({ $0.popLast() }) { return c.pointer }
        return ZSTD_createCCtx()
    }

    func put(_ context: OpaquePointer) {
        let kept = free.withLock { list -> Bool in
            guard list.count < Self.maxKept else { return false }
            list.append(UnsafeSendableContext(pointer: context))
            return true
        }
        if !kept { ZSTD_freeCCtx(context) }
    }
}

/// A bounded set of 64-bit hashes shared by threads (cleared when full: it is only a hint).
final class KnownHashes: Sendable {
    private let hashes = Mutex<Set<UInt64>>([])
    static let capacity = 100_000

    func contains(_ h: UInt64) -> Bool { hashes.withLock { $0.contains(h) } }

    func insert(_ h: UInt64) {
        hashes.withLock { set in
            if set.count >= Self.capacity { set.removeAll() }
            set.insert(h)
        }
    }
}
