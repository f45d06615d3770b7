import Foundation
import Glibc

/// A minimal HTTP/1.1 client over a raw loopback socket, so tests control every byte: chunked
/// bodies, missing lengths, stalled uploads.
struct HTTPClient {
    let port: UInt16

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
        var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
        var usageDataID: Int? { ((json?["conv_index"] as? [String: Any])?["usage_data_id"] as? NSNumber)?.intValue }
    }

    /// An open connection.
    final class Connection {
        let fd: Int32

        /// - Parameter source: the loopback address to connect from (127.0.0.2 … act as other clients).
        init(port: UInt16, receiveTimeoutSeconds: Int = 60, source: String? = nil) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ServerError(message: "socket() failed") }
            var tv = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            if let source {
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                local.sin_addr.s_addr = inet_addr(source)
                let bound = withUnsafePointer(to: &local) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard bound == 0 else { close(fd); throw ServerError(message: "bind(\(source)) failed: errno \(errno)") }
            }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(fd); throw ServerError(message: "connect() failed: errno \(errno)") }
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) throws {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw ServerError(message: "send() failed: errno \(errno)") }
                offset += n
            }
        }

        func send(_ text: String) throws { try send(Array(text.utf8)) }

        /// Reads one response (status line, headers, a Content-Length or close-delimited body).
        func readResponse() throws -> Response {
            var buffer: [UInt8] = []
            var headerEnd: Int?
            var chunk = [UInt8](repeating: 0, count: 65536)
            while headerEnd == nil {
                let n = recv(fd, &chunk, chunk.count, 0)
                guard n > 0 else { throw ServerError(message: "connection closed before a response (errno \(errno))") }
                buffer += chunk[0..<n]
                headerEnd = buffer.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
            }
            let headText = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
            var lines = headText.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst()
            let status = Int(statusLine.split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in lines where line.contains(":") {
                let parts = line.split(separator: ":", maxSplits: 1)
                headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
            }
            var body = Array(buffer[headerEnd!...])
            if headers["transfer-encoding"]?.lowercased() == "chunked" {
                while !body.ends(with: Array("0\r\n\r\n".utf8)) {
                    let n = recv(fd, &chunk, chunk.count, 0)
                    guard n > 0 else { throw ServerError(message: "connection closed mid-body") }
                    body += chunk[0..<n]
                }
                return Response(status: status, headers: headers, body: Self.dechunk(body))
            }
            if let length = headers["content-length"].flatMap(Int.init) {
                while body.count < length {
                    let n = recv(fd, &chunk, chunk.count, 0)
                    guard n > 0 else { throw ServerError(message: "connection closed mid-body") }
                    body += chunk[0..<n]
                }
            }
            return Response(status: status, headers: headers, body: body)
        }

        /// The payload of a chunked body (chunk extensions and trailers ignored).
        static func dechunk(_ raw: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [], i = 0
            while let lineEnd = raw[i...].firstRange(of: Array("\r\n".utf8)) {
                let sizeText = String(decoding: raw[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0,
                      lineEnd.upperBound + size <= raw.count else { break }
                out += raw[lineEnd.upperBound..<lineEnd.upperBound + size]
                i = lineEnd.upperBound + size + 2
                guard i <= raw.count else { break }
            }
            return out
        }

        /// Whether the server ends this connection (whatever it sends first) within the receive timeout.
        func readsToTheEnd() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &chunk, chunk.count, 0)
                if n == 0 { return true }
                if n < 0 { return errno == ECONNRESET }
            }
        }

        /// Whether the server closed this connection (reads EOF) within the receive timeout.
        func waitForClose() -> Bool {
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, 0) == 0
        }
    }

    func connect(receiveTimeoutSeconds: Int = 60, source: String? = nil) throws -> Connection {
        try Connection(port: port, receiveTimeoutSeconds: receiveTimeoutSeconds, source: source)
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> Response {
        let c = try connect()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !headers.contains(where: { $0.0.lowercased() == "transfer-encoding" }) { head += "Content-Length: \(body.count)\r\n" }
        try c.send(head + "\r\n")
        if let body { try c.send(body) }
        return try c.readResponse()
    }

    /// A route that starts a job answers 202 with `Location`; this follows the job (with the
    /// same Authorization) until it finishes and answers what the synchronous route gave: its
    /// `result_status` and `result`. Any other answer is given back as it is.
    func finishedJob(_ response: Response, headers: [(String, String)], timeoutSeconds: Double = 120) throws -> Response {
        guard response.status == 202 else { return response }
        guard let location = response.headers["location"] ?? response.headers["Location"] else {
            return Response(status: 599, headers: [:], body: Array("a 202 without Location".utf8))
        }
        let auth = headers.filter { $0.0 == "Authorization" }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var job = response.json ?? [:]
        while !["succeeded", "failed", "cancelled"].contains(job["state"] as? String ?? "") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            job = try request("GET", location, headers: auth).json ?? [:]
        }
        guard let status = job["result_status"] as? Int, let result = job["result"] else {
            return Response(status: 598, headers: [:], body: Array("the job did not finish with a result: \(job)".utf8))
        }
        return Response(status: status, headers: ["content-type": "application/json"],
                        body: Array((try? JSONSerialization.data(withJSONObject: result)) ?? Data()))
    }

    func postJSON(_ path: String, _ json: String, headers: [(String, String)] = [("Content-Type", "application/json")]) throws -> Response {
        try request("POST", path, headers: headers, body: Array(json.utf8))
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
