import Glibc

/// A `HOST:PORT` to listen on: an IPv4 literal, `[IPv6]`, or `localhost`; port 0 picks a free one.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8080`, `[::1]:8080`, `localhost:0`, `0.0.0.0:80`.
    public init?(_ text: String) {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
        guard isIPv6 || ipv4Bytes != nil else { return nil }
    }

    var isIPv6: Bool { host.contains(":") }

    var ipv4Bytes: in_addr? {
        var addr = in_addr()
        let literal = host == "localhost" ? "127.0.0.1" : host
        return inet_pton(AF_INET, literal, &addr) == 1 ? addr : nil
    }

    /// Whether connections can only come from this machine.
    public var isLoopback: Bool {
        if isIPv6 { return host == "::1" }
        guard let addr = ipv4Bytes else { return false }
        return UInt32(bigEndian: addr.s_addr) >> 24 == 127
    }

    /// Calls `body` with this address as a `sockaddr`, or nil when the host does not parse.
    func withSockaddr<T>(port: UInt16, _ body: (UnsafePointer<sockaddr>?) -> T) -> T {
        if isIPv6 {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &sa.sin6_addr) == 1 else { return body(nil) }
            return withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0) } }
        }
        guard let addr = ipv4Bytes else { return body(nil) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = addr
        return withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0) } }
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
