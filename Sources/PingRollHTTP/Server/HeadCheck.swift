/// Checks a raw request head (request line and header lines, up to the blank line) for the
/// framing errors libmicrohttpd 0.9.75 would otherwise answer itself — with HTML, an empty body,
/// or (for a bad `Content-Length`) its status line and headers sent twice — so that every such
/// answer is pingroll's one JSON error instead. Linear in the head.
enum HeadCheck {
    struct Rejection: Error, Equatable {
        var error: HTTPError
        /// The request target as sent (for the quarantine record), or `-` when unreadable.
        var target: String
    }

    /// nil when the head is fine for libmicrohttpd; otherwise the answer to send.
    static func check(_ head: ArraySlice<UInt8>) -> Rejection? {
        let lines = split(head)
        guard let requestLine = lines.first else {
            return Rejection(error: HTTPError(400, "bad_request", "the request has no request line"), target: "-")
        }
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        let target = parts.count >= 2 ? String(decoding: parts[1].prefix(200), as: UTF8.self).replacingNUL() : "-"
        func reject(_ status: Int, _ code: String, _ message: String) -> Rejection {
            Rejection(error: HTTPError(status, code, message), target: target)
        }
        if head.contains(0) {
            return reject(400, "bad_request", "the request head contains a NUL byte")
        }
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            return reject(400, "bad_request", "the request line must be METHOD TARGET HTTP/1.1")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return reject(505, "http_version_not_supported", "pingroll speaks HTTP/1.1 and HTTP/1.0 (got \(version.prefix(20)))")
        }
        var lengths: [String] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            guard name.count == 14, name.lowercased() == "content-length" else { continue }
            lengths.append(String(decoding: line[(colon + 1)...], as: UTF8.self))
        }
        if let problem = ContentLength.problem(lengths) { return Rejection(error: problem, target: target) }
        return nil
    }

    /// The lines of a head, without their CRLF (a bare LF also ends a line).
    static func split(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        for i in head.indices where head[i] == UInt8(ascii: "\n") {
            var end = i
            if end > start && head[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end > start { lines.append(head[start..<end]) }
            start = i + 1
        }
        if start < head.endIndex { lines.append(head[start...]) }
        return lines
    }

    /// Just after the blank line ending the head (CRLF CRLF, or LF LF) in `bytes`, looking at
    /// line feeds from index `from` on (callers resume where their last search stopped), or nil.
    static func headEnd(in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = max(0, from)
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if i >= 1 && bytes[i - 1] == 0x0A { return i + 1 }
                if i >= 3 && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D { return i + 1 }
            }
            i += 1
        }
        return nil
    }
}
