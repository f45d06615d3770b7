/// Checks a request target as sent (`/path%20x?a=1&b=%2F`), before libmicrohttpd decodes it.
///
/// libmicrohttpd decodes `%XX` in place and hands the path on as a C string, so `%00` used to
/// cut it short (`/healthz%00` routed as `/healthz`). A target whose decoded path contains NUL,
/// an encoded `/`, bytes that are not UTF-8, or a `%` not followed by two hex digits routes
/// nowhere; nor does a query whose decoded text contains NUL or a malformed `%`. Linear in the
/// target.
enum RequestTarget {
    /// nil when the target is fine; otherwise the 400 to answer.
    static func problem(_ raw: UnsafeRawBufferPointer) -> HTTPError? {
        let query = raw.firstIndex(of: UInt8(ascii: "?")) ?? raw.endIndex
        // The common case, a target without any escape: only the path's UTF-8 is checked, in place.
        if !raw.contains(UInt8(ascii: "%")) {
            return String(validating: raw[..<query], as: UTF8.self) == nil ? invalid("the decoded path is not UTF-8") : nil
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(query)
        var i = 0
        while i < raw.count {
            let inPath = i < query
            let byte = raw[i]
            guard byte == UInt8(ascii: "%") else {
                if inPath { decoded.append(byte) }
                i += 1
                continue
            }
            guard i + 2 < raw.count, let high = hex(raw[i + 1]), let low = hex(raw[i + 2]) else {
                return invalid(inPath ? "the path has a % that is not followed by two hex digits (write %25 for a literal %)"
                                      : "the query has a % that is not followed by two hex digits (write %25 for a literal %)")
            }
            let value = high << 4 | low
            if value == 0 { return invalid(inPath ? "the path contains an encoded NUL (%00)" : "the query contains an encoded NUL (%00)") }
            if inPath && value == UInt8(ascii: "/") { return invalid("the path contains an encoded / (%2F)") }
            if inPath { decoded.append(value) }
            i += 3
        }
        if String(validating: decoded, as: UTF8.self) == nil { return invalid("the decoded path is not UTF-8") }
        return nil
    }

    static func problem(_ raw: String) -> HTTPError? {
        var raw = raw
        return raw.withUTF8 { problem(UnsafeRawBufferPointer($0)) }
    }

    private static func invalid(_ message: String) -> HTTPError {
        HTTPError(400, "bad_request", "the request target is not a valid path: \(message)")
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
