/// Removes secrets from a request head before it is stored or logged: the values of
/// credential headers, and of credential query parameters in the request target. Linear in
/// the head; everything else is kept byte for byte.
enum Redaction {
    /// Headers whose whole value is a credential (compared without case).
    static let secretHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie", "private-token",
                                             "job-token", "x-gitlab-token", "x-api-key"]
    /// Query parameters whose value is a credential (compared without case).
    static let secretParameters: Set<String> = ["token", "access_token", "private_token", "job_token", "api_key"]
    static let mask = Array("[redacted]".utf8)

    /// `head` (request line and header lines, as received) with every secret value replaced
    /// by `[redacted]`.
    static func head(_ head: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(head.count)
        var start = 0
        var first = true
        while start < head.count {
            var end = start
            while end < head.count && head[end] != UInt8(ascii: "\n") { end += 1 }
            let line = head[start..<end]
            if first {
                out += requestLine(line)
                first = false
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")), secretHeaders.contains(lowercased(line[line.startIndex..<colon])) {
                out += line[line.startIndex...colon]
                out += Array(" ".utf8) + mask
                if line.last == UInt8(ascii: "\r") { out.append(UInt8(ascii: "\r")) }
            } else {
                out += line
            }
            if end < head.count { out.append(UInt8(ascii: "\n")) }
            start = end + 1
        }
        return out
    }

    /// `METHOD TARGET VERSION` with the target's credential parameters masked.
    private static func requestLine(_ line: ArraySlice<UInt8>) -> [UInt8] {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return Array(line) }
        let rest = line[(space + 1)...]
        let targetEnd = rest.firstIndex(of: UInt8(ascii: " ")) ?? rest.endIndex
        return Array(line[...space]) + query(rest[rest.startIndex..<targetEnd]) + Array(rest[targetEnd...])
    }

    private static func query(_ target: ArraySlice<UInt8>) -> [UInt8] {
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return Array(target) }
        var out = Array(target[...mark])
        var i = mark + 1
        while i < target.endIndex {
            var end = i
            while end < target.endIndex && target[end] != UInt8(ascii: "&") { end += 1 }
            let pair = target[i..<end]
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")), secretParameters.contains(lowercased(pair[pair.startIndex..<equals])) {
                out += pair[...equals]
                out += mask
            } else {
                out += pair
            }
            if end < target.endIndex { out.append(UInt8(ascii: "&")) }
            i = end + 1
        }
        return out
    }

    private static func lowercased(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self).trimmingSpaces()
    }
}

private extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
