import Glibc

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `::1/128`, or a single address) that client
/// addresses are matched against.
public struct ClientNetwork: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let prefix: Int

    /// Parses `ADDRESS[/PREFIX]`; nil when either part is not valid.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.parse(String(parts[0])) else { return nil }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard (1...3).contains(parts[1].utf8.count), parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  let p = Int(parts[1]), (0...bits).contains(p) else { return nil }
            prefix = p
        }
        // The network's own bits only: 10.1.2.3/8 is 10.0.0.0/8.
        var masked = address
        for i in masked.indices {
            let keep = max(0, min(8, prefix - i * 8))
            masked[i] &= keep == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        bytes = masked
        self.prefix = prefix
    }

    /// Whether `address` (as the server reports client addresses: `127.0.0.1`, `::1`) lies in
    /// the network. An IPv4 client reached over IPv6 (`::ffff:10.1.2.3`) matches IPv4 networks.
    public func contains(_ address: String) -> Bool {
        guard var candidate = Self.parse(address) else { return false }
        if bytes.count == 4, let v4 = Self.mappedIPv4(candidate) { candidate = v4 }
        guard candidate.count == bytes.count else { return false }
        for i in bytes.indices {
            let keep = max(0, min(8, prefix - i * 8))
            if keep == 0 { break }
            let mask: UInt8 = keep == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
            if candidate[i] & mask != bytes[i] { return false }
        }
        return true
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefix)"
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`), else nil.
    static func mappedIPv4(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count == 16, bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] else { return nil }
        return Array(bytes.suffix(4))
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address in text.
    static func parse(_ text: String) -> [UInt8]? {
        // Only the characters of an address: inet_pton would read a C string only up to a NUL.
        guard !text.isEmpty, text.utf8.count <= 64,
              text.utf8.allSatisfy({ (0x30...0x3A).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2E }) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

extension [ClientNetwork] {
    /// An allow-list: empty admits every client; otherwise the address must lie in one network.
    func admits(_ address: String?) -> Bool {
        isEmpty || address.map { a in contains { $0.contains(a) } } == true
    }
}
