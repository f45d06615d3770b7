import CZlib

/// Incremental gzip decompression for inputs too large to hold (bulk import files).
public final class GzipStream {
    private var stream = z_stream()

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws(Failure) {
        guard pingroll_inflate_init_auto(&stream) == Z_OK else { throw Failure(description: "zlib could not start") }
    }

    deinit { inflateEnd(&stream) }

    /// Decompresses the next piece of input; concatenated gzip members are read one after another.
    public func feed(_ input: [UInt8]) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        let ok: Bool = input.withUnsafeBytes { src in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            while true {
                let status: Int32 = chunk.withUnsafeMutableBytes { dst in
                    stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(dst.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
                switch status {
                case Z_STREAM_END:
                    if stream.avail_in == 0 { return true }
                    inflateReset(&stream)  // another gzip member follows
                case Z_OK:
                    if stream.avail_in == 0 && stream.avail_out != 0 { return true }
                case Z_BUF_ERROR:
                    return true  // needs more input
                default:
                    return false
                }
            }
        }
        guard ok else { throw Failure(description: "the gzip data is damaged") }
        return output
    }
}
