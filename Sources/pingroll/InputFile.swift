import Foundation
import Glibc

/// Reading a file an operator named, failing with the reason in one sentence
/// (`cannot read FILE: No such file or directory`), never a Foundation error dump.
enum InputFile {
    /// Why `path` cannot be opened for reading, or nil when it can.
    static func problem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
        if (info.st_mode & S_IFMT) == S_IFDIR { return "it is a directory" }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        close(fd)
        return nil
    }

    /// The whole file; `what` names it in the message (e.g. "the metric catalog").
    static func read(_ path: String, what: String? = nil, maxBytes: Int? = nil) throws -> [UInt8] {
        let name = what.map { "\($0) at \(path)" } ?? path
        if let problem = problem(path) { throw CommandFailure("cannot read \(name): \(problem)") }
        if let maxBytes {
            var info = stat()
            if stat(path, &info) == 0, Int(info.st_size) > maxBytes { throw CommandFailure("\(name) is larger than \(maxBytes >> 20) MiB") }
        }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CommandFailure("cannot read \(name): \(String(cString: strerror(errno == 0 ? EIO : errno)))")
        }
    }
}
