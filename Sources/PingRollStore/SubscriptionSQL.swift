import Foundation
import PingRollCore

/// Subscriptions and their deliveries. Exactly once: a delivery is one row per subscription,
/// subject and generation (a unique index, so two collectors or a restart enqueue it once), and
/// is sent only by the collector whose conditional update claimed it.
public protocol SubscriptionStoring: AnyObject, Sendable {
    func subscriptions() throws(StorageError) -> [Subscription]
    func subscription(id: Int64) throws(StorageError) -> Subscription?
    /// Stores it with its sealed secret; nil when `Subscription.maxSubscriptions` exist already.
    func createSubscription(_ subscription: Subscription, sealedSecret: [UInt8]?) throws(StorageError) -> Subscription?
    /// Deletes it and its deliveries; false when there is none.
    func deleteSubscription(id: Int64) throws(StorageError) -> Bool
    func sealedSecret(subscriptionID: Int64) throws(StorageError) -> [UInt8]?
    /// The delivery of `subject` to the subscription: the one enqueued before (`created` false),
    /// or a new one with `body`; `resend` adds a new generation on purpose.
    func enqueueDelivery(subscriptionID: Int64, subject: String, body: [UInt8], resend: Bool, now: Timestamp) throws(StorageError) -> (delivery: Delivery, created: Bool)
    /// Deliveries due at `now`: pending ones whose attempt time came, and claimed ones whose lease ran out.
    func dueDeliveries(now: Timestamp, limit: Int) throws(StorageError) -> [Int64]
    /// Claims the delivery for one attempt (until `now + leaseMs`): nil when another collector
    /// has it, or it is not due.
    func claimDelivery(id: Int64, now: Timestamp, leaseMs: Int64) throws(StorageError) -> Delivery?
    /// Marks the attempt: delivered, or failed (retried after `retryAt`, or for good without one).
    func recordAttempt(id: Int64, outcome: Delivery.Outcome, retryAt: Timestamp?, now: Timestamp) throws(StorageError)
    /// The newest first, without bodies.
    func deliveries(subscriptionID: Int64, limit: Int) throws(StorageError) -> [Delivery]
    func delivery(id: Int64) throws(StorageError) -> Delivery?
    /// An alert rule's state per group, by group.
    func alertStates(subscriptionID: Int64) throws(StorageError) -> [AlertState]
    /// Stores a group's state (insert or replace).
    func recordAlertState(_ state: AlertState) throws(StorageError)
}

enum SubscriptionSQL {
    static let columns = ColumnList(["id", "kind", "channel", "target", "secret_sealed", "schedule", "dashboards", "rule", "created_by", "created_role", "created_at"])
    static let deliveryColumns = ColumnList(["id", "delivery_id", "subscription_id", "subject", "generation", "state", "attempts", "next_attempt_at",
                                             "last_error", "body", "created_at", "updated_at"])

    static func encode<T: Encodable>(_ value: T) -> String { String(decoding: (try? JSONEncoder().encode(value)) ?? Data("null".utf8), as: UTF8.self) }

    static func subscription(_ r: NamedRow) throws(StorageError) -> Subscription {
        let op = r.operation
        func decoded<T: Decodable>(_ type: T.Type, _ column: String) throws(StorageError) -> T? {
            guard let text = try r.string(column) else { return nil }
            do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
                throw StorageError(.corrupt, operation: op, reason: "a subscription's \(column) does not read")
            }
        }
        guard let kind = Subscription.Kind(rawValue: try r.requiredString("kind")), let channel = Subscription.Channel(rawValue: try r.requiredString("channel")),
              let role = Role(rawValue: try r.requiredString("created_role")) else {
            throw StorageError(.corrupt, operation: op, reason: "a subscription has an unknown kind, channel or role")
        }
        return Subscription(id: try r.requiredInt64("id"), kind: kind, channel: channel, target: try r.requiredString("target"),
                            hasSecret: try r.bytes("secret_sealed") != nil, schedule: try decoded(Subscription.Schedule.self, "schedule"),
                            dashboards: try decoded([String].self, "dashboards") ?? [], rule: try decoded(Subscription.Rule.self, "rule"),
                            createdBy: try r.requiredString("created_by"), createdRole: role,
                            createdAt: Timestamp(milliseconds: try r.requiredInt64("created_at")))
    }

    static func delivery(_ r: NamedRow, withBody: Bool) throws(StorageError) -> Delivery {
        guard let state = Delivery.State(rawValue: try r.requiredString("state")) else {
            throw StorageError(.corrupt, operation: r.operation, reason: "a delivery has an unknown state")
        }
        return Delivery(id: try r.requiredInt64("id"), deliveryID: try r.requiredString("delivery_id"), subscriptionID: try r.requiredInt64("subscription_id"),
                        subject: try r.requiredString("subject"), generation: Int(clamping: try r.requiredInt64("generation")), state: state,
                        attempts: Int(clamping: try r.requiredInt64("attempts")), nextAttemptAt: Timestamp(milliseconds: try r.requiredInt64("next_attempt_at")),
                        lastError: try r.string("last_error"), body: withBody ? (try r.bytes("body") ?? []) : [],
                        createdAt: Timestamp(milliseconds: try r.requiredInt64("created_at")), updatedAt: Timestamp(milliseconds: try r.requiredInt64("updated_at")))
    }
}

extension SQLBackedStore {
    public func subscriptions() throws(StorageError) -> [Subscription] {
        try read { e throws(StorageError) in
            try SubscriptionSQL.columns.select(e, "FROM subscriptions ORDER BY id", [], operation: "listing subscriptions").map { r throws(StorageError) in
                try SubscriptionSQL.subscription(r)
            }
        }
    }

    public func subscription(id: Int64) throws(StorageError) -> Subscription? {
        try read { e throws(StorageError) in
            try SubscriptionSQL.columns.select(e, "FROM subscriptions WHERE id = $1", [.integer(id)], operation: "reading a subscription").first
                .map { r throws(StorageError) in try SubscriptionSQL.subscription(r) }
        }
    }

    public func createSubscription(_ s: Subscription, sealedSecret: [UInt8]?) throws(StorageError) -> Subscription? {
        let op = "creating a subscription"
        return try writeTransaction(op) { e throws(StorageError) -> Subscription? in
            let count = try e.scalarInt64("SELECT COUNT(*) FROM subscriptions", [], operation: op)
            guard count < Int64(Subscription.maxSubscriptions) else { return nil }
            var stored = s
            stored.id = try e.scalarInt64("""
                INSERT INTO subscriptions (kind, channel, target, secret_sealed, schedule, dashboards, rule, created_by, created_role, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
                """, [.text(s.kind.rawValue), .text(s.channel.rawValue), .text(s.target), sealedSecret.map { .blob($0) } ?? .null,
                      SQLValue(s.schedule.map(SubscriptionSQL.encode)), .text(SubscriptionSQL.encode(s.dashboards)), SQLValue(s.rule.map(SubscriptionSQL.encode)),
                      .text(s.createdBy), .text(s.createdRole.rawValue), .integer(s.createdAt.milliseconds)], operation: op)
            stored.hasSecret = sealedSecret != nil
            return stored
        }
    }

    public func deleteSubscription(id: Int64) throws(StorageError) -> Bool {
        let op = "deleting a subscription"
        return try writeTransaction(op) { e throws(StorageError) -> Bool in
            guard try e.optionalScalarInt64("SELECT id FROM subscriptions WHERE id = $1", [.integer(id)], operation: op) != nil else { return false }
            try e.query("DELETE FROM deliveries WHERE subscription_id = $1", [.integer(id)], operation: op)
            try e.query("DELETE FROM alert_states WHERE subscription_id = $1", [.integer(id)], operation: op)
            try e.query("DELETE FROM subscriptions WHERE id = $1", [.integer(id)], operation: op)
            return true
        }
    }

    public func sealedSecret(subscriptionID: Int64) throws(StorageError) -> [UInt8]? {
        try read { e throws(StorageError) in
            try ColumnList(["secret_sealed"]).select(e, "FROM subscriptions WHERE id = $1", [.integer(subscriptionID)], operation: "reading a webhook secret")
                .first.flatMap { r throws(StorageError) in try r.bytes("secret_sealed") }
        }
    }

    public func enqueueDelivery(subscriptionID: Int64, subject: String, body: [UInt8], resend: Bool,
                                now: Timestamp) throws(StorageError) -> (delivery: Delivery, created: Bool) {
        let op = "enqueueing a delivery"
        return try writeTransaction(op) { e throws(StorageError) -> (delivery: Delivery, created: Bool) in
            var generation: Int64 = 0
            if resend {
                generation = (try e.optionalScalarInt64("SELECT MAX(generation) FROM deliveries WHERE subscription_id = $1 AND subject = $2",
                                                        [.integer(subscriptionID), .text(subject)], operation: op) ?? -1) + 1
            }
            let inserted = try e.query("""
                INSERT INTO deliveries (delivery_id, subscription_id, subject, generation, state, attempts, next_attempt_at, body, created_at, updated_at)
                VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $5, $5)
                ON CONFLICT (subscription_id, subject, generation) DO NOTHING RETURNING id
                """, [.text(Digest.hex(Digest.randomBytes(16))), .integer(subscriptionID), .text(subject), .integer(generation), .integer(now.milliseconds), .blob(body)],
                operation: op)
            guard let row = try SubscriptionSQL.deliveryColumns.select(e, "FROM deliveries WHERE subscription_id = $1 AND subject = $2 AND generation = $3",
                                                                       [.integer(subscriptionID), .text(subject), .integer(generation)], operation: op).first else {
                throw StorageError(.corrupt, operation: op, reason: "the delivery just enqueued is missing")
            }
            return (try SubscriptionSQL.delivery(row, withBody: true), !inserted.isEmpty)
        }
    }

    public func dueDeliveries(now: Timestamp, limit: Int) throws(StorageError) -> [Int64] {
        try read { e throws(StorageError) in
            try ColumnList(["id"]).select(e, """
                FROM deliveries WHERE (state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until < $1)
                ORDER BY next_attempt_at, id LIMIT \(max(1, limit))
                """, [.integer(now.milliseconds)], operation: "listing due deliveries").map { r throws(StorageError) in try r.requiredInt64("id") }
        }
    }

    public func claimDelivery(id: Int64, now: Timestamp, leaseMs: Int64) throws(StorageError) -> Delivery? {
        let op = "claiming a delivery"
        return try writeTransaction(op) { e throws(StorageError) -> Delivery? in
            let claimed = try e.query("""
                UPDATE deliveries SET state = 'sending', lease_until = $2, attempts = attempts + 1, updated_at = $3
                WHERE id = $1 AND ((state = 'pending' AND next_attempt_at <= $3) OR (state = 'sending' AND lease_until < $3)) RETURNING id
                """, [.integer(id), .integer(now.milliseconds &+ leaseMs), .integer(now.milliseconds)], operation: op)
            guard !claimed.isEmpty else { return nil }
            return try SubscriptionSQL.deliveryColumns.select(e, "FROM deliveries WHERE id = $1", [.integer(id)], operation: op).first
                .map { r throws(StorageError) in try SubscriptionSQL.delivery(r, withBody: true) }
        }
    }

    public func recordAttempt(id: Int64, outcome: Delivery.Outcome, retryAt: Timestamp?, now: Timestamp) throws(StorageError) {
        let op = "recording a delivery attempt"
        try writeTransaction(op) { e throws(StorageError) in
            switch outcome {
            case .delivered:
                try e.query("UPDATE deliveries SET state = 'delivered', lease_until = NULL, last_error = NULL, updated_at = $2 WHERE id = $1",
                            [.integer(id), .integer(now.milliseconds)], operation: op)
            case .failed(let reason):
                let text = String(reason.prefix(500))
                if let retryAt {
                    try e.query("UPDATE deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = $2, last_error = $3, updated_at = $4 WHERE id = $1",
                                [.integer(id), .integer(retryAt.milliseconds), .text(text), .integer(now.milliseconds)], operation: op)
                } else {
                    try e.query("UPDATE deliveries SET state = 'failed', lease_until = NULL, last_error = $2, updated_at = $3 WHERE id = $1",
                                [.integer(id), .text(text), .integer(now.milliseconds)], operation: op)
                }
            }
        }
    }

    public func deliveries(subscriptionID: Int64, limit: Int) throws(StorageError) -> [Delivery] {
        try read { e throws(StorageError) in
            try SubscriptionSQL.deliveryColumns.select(e, "FROM deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT \(max(1, limit))",
                                                       [.integer(subscriptionID)], operation: "listing deliveries")
                .map { r throws(StorageError) in try SubscriptionSQL.delivery(r, withBody: false) }
        }
    }

    public func delivery(id: Int64) throws(StorageError) -> Delivery? {
        try read { e throws(StorageError) in
            try SubscriptionSQL.deliveryColumns.select(e, "FROM deliveries WHERE id = $1", [.integer(id)], operation: "reading a delivery").first
                .map { r throws(StorageError) in try SubscriptionSQL.delivery(r, withBody: true) }
        }
    }

    public func alertStates(subscriptionID: Int64) throws(StorageError) -> [AlertState] {
        try read { e throws(StorageError) in
            try ColumnList(["subscription_id", "group_value", "firing", "since", "period_start", "detail", "updated_at"])
                .select(e, "FROM alert_states WHERE subscription_id = $1 ORDER BY group_value", [.integer(subscriptionID)], operation: "reading alert states")
                .map { r throws(StorageError) in
                    AlertState(subscriptionID: try r.requiredInt64("subscription_id"), group: try r.requiredString("group_value"),
                               firing: try r.requiredInt64("firing") != 0, since: Timestamp(milliseconds: try r.requiredInt64("since")),
                               periodStart: try r.requiredInt64("period_start"), detail: try r.requiredString("detail"),
                               updatedAt: Timestamp(milliseconds: try r.requiredInt64("updated_at")))
                }
        }
    }

    public func recordAlertState(_ a: AlertState) throws(StorageError) {
        let op = "recording an alert state"
        try writeTransaction(op) { e throws(StorageError) in
            try e.query("""
                INSERT INTO alert_states (subscription_id, group_value, firing, since, period_start, detail, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (subscription_id, group_value) DO UPDATE SET firing = excluded.firing, since = excluded.since,
                    period_start = excluded.period_start, detail = excluded.detail, updated_at = excluded.updated_at
                """, [.integer(a.subscriptionID), .text(a.group), .integer(a.firing ? 1 : 0), .integer(a.since.milliseconds), .integer(a.periodStart),
                      .text(a.detail), .integer(a.updatedAt.milliseconds)], operation: op)
        }
    }
}

