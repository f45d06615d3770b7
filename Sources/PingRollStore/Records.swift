import PingRollCore

/// A ping ready to be stored: its facts and its compressed raw payload.
public struct PingRecord: Sendable {
    public var facts: PingFacts
    public var receivedAt: Timestamp
    public var payload: CompressedPayload

    public init(facts: PingFacts, receivedAt: Timestamp, payload: CompressedPayload) {
        self.facts = facts
        self.receivedAt = receivedAt
        self.payload = payload
    }
}

/// One thing to write in a group-committed transaction.
public enum WriteItem: Sendable {
    case ping(PingRecord)
    case quarantine(QuarantineRecord)
    case clientReport(ClientReport)

    /// Approximate memory held while queued, for back-pressure.
    var queuedBytes: Int {
        switch self {
        case .ping(let p): p.payload.bytes.count + 512
        case .quarantine(let q): q.body.count + 512
        case .clientReport(let r): r.body.utf8.count + 256
        }
    }
}

/// What happened to one written item.
public enum WriteOutcome: Equatable, Sendable {
    /// A new ping; its usage_data_id.
    case stored(id: Int64)
    /// A ping already stored for the same installation and `recorded_at`; the first one's id.
    case duplicate(id: Int64)
    /// A quarantine entry or client report; its row id.
    case recorded(id: Int64)

    public var id: Int64 {
        switch self {
        case .stored(let id), .duplicate(let id), .recorded(let id): id
        }
    }
}
