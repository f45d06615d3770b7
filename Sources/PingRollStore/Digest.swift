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

extension Digest {
    /// HMAC-SHA256 of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in message.withUnsafeBytes { m in out.withUnsafeMutableBytes {
            pingroll_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, $0.baseAddress)
        } } }
        precondition(ok == 1, "HMAC-SHA256 failed")
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for b in bytes { text.append(digits[Int(b >> 4)]); text.append(digits[Int(b & 15)]) }
        return String(decoding: text, as: UTF8.self)
    }

    /// `count` bytes from the system's generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "the system's random generator failed")
        return out
    }
}

/// Secrets pingroll must keep to use them later (a webhook's signing secret): sealed with
/// AES-256-GCM under a key that lives outside the database (`--secrets-key-file`), so the
/// database, its backups and its dumps hold no secret in clear.
public struct SecretBox: Sendable {
    let key: [UInt8]

    /// `key`: 32 bytes.
    public init?(key: [UInt8]) {
        guard key.count == 32 else { return nil }
        self.key = key
    }

    /// nonce (12) + sealed text + tag (16).
    public func seal(_ text: String) -> [UInt8] {
        let plain = Array(text.utf8)
        let nonce = Digest.randomBytes(12)
        var sealed = [UInt8](repeating: 0, count: plain.count), tag = [UInt8](repeating: 0, count: 16)
        let ok = key.withUnsafeBufferPointer { k in nonce.withUnsafeBufferPointer { n in plain.withUnsafeBufferPointer { p in
            sealed.withUnsafeMutableBufferPointer { s in tag.withUnsafeMutableBufferPointer { t in
                pingroll_aes256gcm_seal(k.baseAddress, n.baseAddress, p.baseAddress, Int32(p.count), s.baseAddress, t.baseAddress)
            } }
        } } }
        precondition(ok == 1, "AES-256-GCM failed")
        return nonce + sealed + tag
    }

    /// The text, or nil when it was sealed under another key or damaged.
    public func open(_ box: [UInt8]) -> String? {
        guard box.count >= 28 else { return nil }
        let nonce = Array(box.prefix(12)), tag = Array(box.suffix(16)), sealed = Array(box.dropFirst(12).dropLast(16))
        var plain = [UInt8](repeating: 0, count: sealed.count)
        let ok = key.withUnsafeBufferPointer { k in nonce.withUnsafeBufferPointer { n in sealed.withUnsafeBufferPointer { s in
            tag.withUnsafeBufferPointer { t in plain.withUnsafeMutableBufferPointer { p in
                pingroll_aes256gcm_open(k.baseAddress, n.baseAddress, s.baseAddress, Int32(s.count), t.baseAddress, p.baseAddress)
            } }
        } } }
        return ok == 1 ? String(validating: plain, as: UTF8.self) : nil
    }
}
