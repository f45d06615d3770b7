import Synchronization

/// A token bucket per client address: `perMinute` requests a minute on average, bursts up to
/// `burst`. IPv6 clients share a bucket per /64 (one host can hold a whole /64). Memory is
/// bounded: past `maxClients` buckets the fullest are forgotten (a full bucket is the default).
public final class RateLimiter: Sendable {
    public let perMinute: Int
    public let burst: Int
    static let maxClients = 100_000

    private struct Bucket { var tokens: Double; var at: Double }
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(perMinute: Int, burst: Int) {
        self.perMinute = max(1, perMinute)
        self.burst = max(1, burst)
    }

    /// Addresses (or /64s) with a bucket now.
    var clientCount: Int { buckets.withLock { $0.count } }

    /// nil when the request may go ahead, else the seconds until it may.
    public func admit(_ address: String, now: Double) -> Int? {
        let key = Self.key(address)
        let rate = Double(perMinute) / 60
        return buckets.withLock { all -> Int? in
            var b = all[key] ?? Bucket(tokens: Double(burst), at: now)
            // A clock that steps back never adds tokens.
            b.tokens = min(Double(burst), b.tokens + max(0, now - b.at) * rate)
            b.at = now
            if b.tokens >= 1 {
                b.tokens -= 1
                all[key] = b
                if all.count > Self.maxClients { Self.evict(&all, now: now, rate: rate, burst: Double(burst)) }
                return nil
            }
            all[key] = b
            return max(1, Int(((1 - b.tokens) / rate).rounded(.up)))
        }
    }

    /// Forgets the buckets that are full again (they behave like new ones), then, if that is
    /// not enough, half of the rest: an attacker spreading over addresses gets no more than a
    /// fresh bucket each, which is what an unseen address gets anyway.
    private static func evict(_ all: inout [String: Bucket], now: Double, rate: Double, burst: Double) {
        all = all.filter { $0.value.tokens + (now - $0.value.at) * rate < burst }
        if all.count > maxClients / 2 {
            var kept = 0
            all = all.filter { _ in kept += 1; return kept % 2 == 0 }
        }
    }

    /// IPv4 addresses as they are; IPv6 by their first four groups (the /64).
    static func key(_ address: String) -> String {
        guard address.contains(":") else { return address }
        guard let bytes = ClientNetwork.parse(address) else { return address }
        if let v4 = ClientNetwork.mappedIPv4(bytes) { return v4.map(String.init).joined(separator: ".") }
        return bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }
}
