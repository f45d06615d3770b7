import Glibc

/// Reads a file an operator named without trusting its size: at most `maxBytes + 1` bytes are
/// ever read (so `/dev/zero`, a FIFO or a file of gigabytes costs no more than the cap).
public enum BoundedFile {
    public enum Failure: Error, Equatable {
        case unreadable
        case tooLarge
    }

    public static func read(_ path: String, maxBytes: Int) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .unreadable }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while out.count <= maxBytes {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, maxBytes + 1 - out.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable
            }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
        throw .tooLarge
    }
}
