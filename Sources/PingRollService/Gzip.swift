import CZlib

/// Decompresses `Content-Encoding: gzip` bodies with a cap on the decompressed size.
public enum Gzip {
    public enum Failure: Error, Equatable {
        /// The decompressed body would exceed the limit.
        case tooLarge
        /// The bytes are not a complete gzip (or zlib) stream.
        case corrupt
    }

    public static func decompress(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        do {
            let stream = try GzipStream()
            let output = try stream.feed(input, limit: limit)
            guard stream.isComplete else { throw Failure.corrupt }
            return output
        } catch GzipStream.Failure.tooLarge {
            throw .tooLarge
        } catch {
            throw .corrupt
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
