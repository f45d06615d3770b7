import PingRollCore

extension BearerToken {
    /// The token from an `Authorization: Bearer <token>` header value, or nil. (HTTP's
    /// business: the domain knows tokens, not headers.)
    static func fromAuthorization(_ header: String?) -> BearerToken? {
        guard let header else { return nil }
        let parts = header.splitting(atASCII: UInt8(ascii: " "), maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return BearerToken(parts[1].trimmingASCIIWhitespace())
    }
}
