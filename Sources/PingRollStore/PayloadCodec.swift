import CZstd

/// A raw payload as stored: compressed bytes plus what is needed to restore them.
public struct CompressedPayload: Sendable, Equatable {
    /// `zstd` for payloads pingroll wrote; the only encoding so far.
    public var encoding: String
    public var originalSize: Int
    public var bytes: [UInt8]
}

/// Compresses raw payloads for storage with zstd.
///
/// Level 1 by default: on this machine kind it compresses GitLab-shaped pings ~5× at ~380 MB/s,
/// so it can run on the request threads without becoming the bottleneck.
public enum PayloadCodec {
    public static let defaultLevel: Int32 = 1

    public static func compress(_ raw: [UInt8], level: Int32 = defaultLevel) -> CompressedPayload {
        let bound = ZSTD_compressBound(raw.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            raw.withUnsafeBytes { src in
                ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level)
            }
        }
        // Compression of an in-memory buffer into a buffer of ZSTD_compressBound size cannot fail.
        precondition(ZSTD_isError(written) == 0, "zstd compression failed")
        out.removeSubrange(written...)
        return CompressedPayload(encoding: "zstd", originalSize: raw.count, bytes: out)
    }

    /// Restores a payload; throws when the stored bytes are damaged.
    public static func decompress(_ payload: CompressedPayload) throws(StorageError) -> [UInt8] {
        guard payload.encoding == "zstd" else {
            throw StorageError(.corrupt, operation: "reading a payload", reason: "unknown payload encoding")
        }
        var out = [UInt8](repeating: 0, count: payload.originalSize)
        let size = out.withUnsafeMutableBytes { dst in
            payload.bytes.withUnsafeBytes { src in
                ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        guard ZSTD_isError(size) == 0, size == payload.originalSize else {
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
