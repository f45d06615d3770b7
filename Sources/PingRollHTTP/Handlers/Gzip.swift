import CZlib

/// Decompresses `Content-Encoding: gzip` bodies with a cap on the decompressed size.
enum Gzip {
    enum Failure: Error, Equatable {
        /// The decompressed body would exceed the limit.
        case tooLarge
        /// The bytes are not a complete gzip (or zlib) stream.
        case corrupt
    }

    static func decompress(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard pingroll_inflate_init_auto(&stream) == Z_OK else { throw .corrupt }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(input.count * 4, 64 * 1024)))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let result: Int32 = input.withUnsafeBytes { src in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            while true {
                let status: Int32 = chunk.withUnsafeMutableBytes { dst in
                    stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(dst.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                if output.count + produced > limit { return Z_MEM_ERROR }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_STREAM_END: return Z_STREAM_END
                case Z_OK: continue
                case Z_BUF_ERROR where produced > 0: continue
                default: return status
                }
            }
        }
        switch result {
        case Z_STREAM_END where stream.avail_in == 0: return output
        case Z_MEM_ERROR: throw .tooLarge
        default: throw .corrupt
        }
    }

    /// Compresses with a gzip wrapper (used by tests and the upload path's round trips).
    static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        guard pingroll_deflate_init_gzip(&stream, level) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        input.withUnsafeBytes { src in
            output.withUnsafeMutableBytes { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(dst.count)
                _ = deflate(&stream, Z_FINISH)
            }
        }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
