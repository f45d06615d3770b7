import CCrypto

/// SHA-256, for fingerprints and keys (never for secrets kept in clear).
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeBytes { src in out.withUnsafeMutableBytes { pingroll_sha256(src.baseAddress, src.count, $0.baseAddress) } }
        precondition(ok == 1, "SHA-256 failed")
        return out
    }

    /// Whether `a` equals `b`, in time that depends on their length only (for secrets' hashes).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) } } == 0
    }

    /// The digest in lower-case hex.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for b in sha256(bytes) { text.append(digits[Int(b >> 4)]); text.append(digits[Int(b & 15)]) }
        return String(decoding: text, as: UTF8.self)
    }
}
