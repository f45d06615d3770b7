import CMicroHTTPD
import Glibc
import PingRollService

/// The error answers libmicrohttpd 0.9.75 sends by itself (framing it rejects before pingroll
/// sees the request: a broken chunk size, an oversized head on a kept-alive connection, ...)
/// have HTML bodies compiled into the library. `install()` replaces each, in this process's
/// copy of the library, with pingroll's JSON error of the same length (padded with spaces), so
/// every error answer is JSON whoever generates it. The status libmicrohttpd chose stays.
enum LibraryErrorBodies {
    /// The library's texts (as in its source, `src/microhttpd/connection.c`) and what each becomes.
    static let replacements: [(html: String, code: String, message: String)] = [
        ("<html><head><title>Request too big</title></head><body>Your HTTP header was too big for the memory constraints of this webserver.</body></html>",
         "request_header_too_large", "the request head is larger than this server accepts"),
        ("<html><head><title>Request malformed</title></head><body>Your HTTP request was syntactically incorrect.</body></html>",
         "bad_request", "the request is not well-formed HTTP/1.1"),
        ("<html><head><title>Requested HTTP version is not supported</title></head><body>Requested HTTP version is too old and not supported.</body></html>",
         "http_version_not_supported", "pingroll speaks HTTP/1.1 and HTTP/1.0"),
        ("<html><head><title>Requested HTTP version is not supported</title></head><body>Requested HTTP version is not supported.</body></html>",
         "http_version_not_supported", "pingroll speaks HTTP/1.1 and HTTP/1.0"),
        ("<html><head><title>&quot;Host:&quot; header required</title></head><body>In HTTP 1.1, requests must include a &quot;Host:&quot; header, and your HTTP 1.1 request lacked such a header.</body></html>",
         "bad_request", "an HTTP/1.1 request must have a Host header"),
        ("<html><head><title>Request content too large</title></head><body>Your HTTP request has too large value for <b>Content-Length</b> header.</body></html>",
         "payload_too_large", "the declared Content-Length is larger than any limit"),
        ("<html><head><title>Request malformed</title></head><body>Your HTTP request has wrong value for <b>Content-Length</b> header.</body></html>",
         "bad_request", "the Content-Length header is not a valid length"),
        ("<html><head><title>Request malformed</title></head><body>Your HTTP chunked encoding was syntactically incorrect.</body></html>",
         "bad_request", "the chunked encoding of the request body is malformed"),
        ("<html><head><title>Request content too large</title></head><body>The chunk size used in your HTTP chunked encoded request is too large.</body></html>",
         "payload_too_large", "a chunk size of the request body is larger than any limit"),
        ("<html><head><title>Internal server error</title></head><body>Please ask the developer of this Web server to carefully read the GNU libmicrohttpd documentation about connection management and blocking.</body></html>",
         "internal", "the server could not answer this request"),
    ]

    /// The JSON error body for `code` and `message`, padded with spaces to `length` bytes (nil
    /// when it does not fit).
    static func body(code: String, message: String, length: Int) -> String? {
        guard let json = try? APIJSON.encode(ErrorBody(code: code, message: message, allowed: nil)) else { return nil }
        let text = String(decoding: json, as: UTF8.self)
        guard text.utf8.count <= length else { return nil }
        return text + String(repeating: " ", count: length - text.utf8.count)
    }

    /// How many of the library's texts were rewritten (once per process; later calls return
    /// the same count).
    static let installed: Int = {
        var strings: [UnsafeMutablePointer<CChar>?] = []
        for r in replacements {
            guard let json = body(code: r.code, message: r.message, length: r.html.utf8.count) else { continue }
            strings.append(strdup(r.html))
            strings.append(strdup(json))
        }
        defer { strings.forEach { free($0) } }
        return strings.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                Int(pingroll_mhd_rewrite_error_bodies($0, Int32(buffer.count / 2)))
            }
        }
    }()
}
