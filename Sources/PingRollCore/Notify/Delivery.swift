/// One message to one subscription: a digest of a period, or an alert's change. Stored before it
/// is sent (its body exactly as it goes out, and the id the receiver sees), claimed with a lease
/// by the collector that sends it, marked after.
public struct Delivery: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable, Codable {
        /// Waiting for its (next) attempt.
        case pending
        /// Claimed by a collector; if its lease runs out (a crash between sending and marking),
        /// it is sent again with the same delivery id: at most one duplicate.
        case sending
        case delivered
        /// Every attempt failed.
        case failed
    }

    public var id: Int64
    /// What the receiver sees (`X-Pingroll-Delivery`, the e-mail's Message-ID): random, unique.
    public var deliveryID: String
    public var subscriptionID: Int64
    /// `digest week:2026-11-30`, `alert firing all week:2026-11-30`, ….
    public var subject: String
    /// 0, and one more for each deliberate resend.
    public var generation: Int
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Timestamp
    public var lastError: String?
    public var body: [UInt8]
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(id: Int64, deliveryID: String, subscriptionID: Int64, subject: String, generation: Int, state: State, attempts: Int,
                nextAttemptAt: Timestamp, lastError: String?, body: [UInt8], createdAt: Timestamp, updatedAt: Timestamp) {
        self.id = id
        self.deliveryID = deliveryID
        self.subscriptionID = subscriptionID
        self.subject = subject
        self.generation = generation
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.body = body
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// After a failed attempt: the wait before the next (1 min, 5 min, 30 min), nil after the last.
    public static func retryDelayMs(afterAttempt attempt: Int) -> Int64? {
        switch attempt {
        case 1: 60_000
        case 2: 300_000
        case 3: 1_800_000
        default: nil
        }
    }

    /// How an attempt ended.
    public enum Outcome: Sendable, Equatable {
        case delivered
        case failed(String)
    }
}
