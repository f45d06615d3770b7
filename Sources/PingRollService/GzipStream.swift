import CZlib

/// Incremental gzip (or zlib) decompression, with a cap on the output: request bodies use it
/// whole (`Gzip.decompress`), bulk import files piece by piece.
public final class GzipStream {
    private var stream = z_stream()
    /// Whether the last gzip member seen so far is complete.
    public private(set) var isComplete = false
    private var produced = 0
    /// Compressed bytes consumed so far: where in the input a failure was found.
    public private(set) var consumed = 0

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The output would exceed the limit.
        case tooLarge
        /// The bytes are not valid gzip (or zlib) data.
        case corrupt

        public var description: String { self == .tooLarge ? "the data decompresses to more than allowed" : "the gzip data is damaged" }
    }

    public init() throws(Failure) {
        guard pingroll_inflate_init_auto(&stream) == Z_OK else { throw .corrupt }
    }

    deinit { inflateEnd(&stream) }

    /// Decompresses the next piece of input; concatenated gzip members are read one after another.
    /// Throws `.tooLarge` as soon as the total output would pass `limit`.
    public func feed(_ input: [UInt8], limit: Int = .max) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        try feed(input, into: &output, limit: limit)
        return output
    }

    /// Decompresses the next piece of input onto the end of `output` (no intermediate copy);
    /// `output` never grows past `limit` bytes of this stream's output.
    public func feed(_ input: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int = .max) throws(Failure) {
        var failure: Failure?
        decompress(input, into: &output, limit: limit, failure: &failure)
        if let failure { throw failure }
    }

    public func feed(_ input: [UInt8], into output: inout [UInt8], limit: Int = .max) throws(Failure) {
        var failure: Failure?
        input.withUnsafeBytes { decompress($0, into: &output, limit: limit, failure: &failure) }
        if let failure { throw failure }
    }

    private func decompress(_ src: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int, failure: inout Failure?) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        do {
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            while true {
                let availableBefore = Int(stream.avail_in)
                let status: Int32 = chunk.withUnsafeMutableBytes { dst in
                    stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(dst.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                consumed += availableBefore - Int(stream.avail_in)
                let count = chunk.count - Int(stream.avail_out)
                produced += count
                if produced > limit { failure = .tooLarge; return }
                if output.count + count > output.capacity {
                    // Doubling, but never past what the limit allows: a capped stream's buffer
                    // is at most `limit` bytes, not twice that.
                    output.reserveCapacity(Swift.min(Swift.max(output.count + count, output.capacity * 2), output.count + (limit - produced) + count))
                }
                output.append(contentsOf: chunk[0..<count])
                if count > 0 { isComplete = false }
                switch status {
                case Z_STREAM_END:
                    isComplete = true
                    if stream.avail_in == 0 { return }
                    inflateReset(&stream)  // another gzip member follows
                case Z_OK:
                    if stream.avail_in == 0 && stream.avail_out != 0 { return }
                case Z_BUF_ERROR:
                    return  // needs more input
                default:
                    failure = .corrupt
                    return
                }
            }
        }
    }
}
