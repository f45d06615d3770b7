/// Limits that protect ingest from oversized and hostile bodies.
public struct IngestLimits: Sendable {
    /// Largest request body accepted as sent (compressed or not): 8 MiB.
    public var maxBodyBytes = 8 << 20
    /// Largest body after gzip decompression: 32 MiB.
    public var maxDecompressedBytes = 32 << 20
    /// Deepest JSON nesting accepted.
    public var maxDepth = 128
    /// Largest body accepted on routes that are not ingest routes.
    public var maxOtherBodyBytes = 64 << 10
    /// Seconds clients are told to wait (`Retry-After`) when the store cannot take writes.
    public var retryAfterSeconds = 5
    /// Benchmark only: `POST /usage_data` reads the body and answers 204 without parsing or storing.
    public var discardBodies = false

    public init() {}
}
