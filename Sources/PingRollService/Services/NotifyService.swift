import PingRollCore
import PingRollStore

/// Subscriptions (pm), the weekly digest, and their deliveries: each enqueued once per
/// subscription and subject (whatever the number of collectors), claimed with a lease before it
/// is sent, marked after — a crash between the two sends it once more, with the same delivery id.
public final class NotifyService: Sendable {
    let store: any PingStore
    let query: QueryService
    /// Seals webhook secrets; nil when no key is configured (webhooks cannot be created then).
    let secrets: SecretBox?
    let dashboards: @Sendable () -> [Dashboard]
    let mail: MailSettings?
    let publicURL: String?

    /// How long a claimed delivery is held before another collector may try it.
    public static let leaseMs: Int64 = 60_000
    public static let webhookTimeoutSeconds = 10.0
    public static let maxAnswerBytes = 16 * 1024

    public init(store: any PingStore, query: QueryService, secrets: SecretBox?, dashboards: @escaping @Sendable () -> [Dashboard],
                mail: MailSettings? = nil, publicURL: String? = nil) {
        self.store = store
        self.query = query
        self.secrets = secrets
        self.dashboards = dashboards
        self.mail = mail
        self.publicURL = publicURL
    }

    /// For the CLI: a service on `store` alone.
    public static func standalone(store: any PingStore, settings: NotifySettings) -> NotifyService {
        NotifyService(store: store, query: QueryService(store: store), secrets: settings.secrets, dashboards: settings.dashboards,
                      mail: settings.mail, publicURL: settings.publicURL)
    }

    public func storedSubscriptions() throws(StorageError) -> [Subscription] { try store.subscriptions() }

    // MARK: Subscriptions

    public func subscriptions() throws(StorageError) -> SubscriptionListBody { SubscriptionListBody(try store.subscriptions()) }

    public func subscription(id: Int64) throws -> SubscriptionBody {
        guard let s = try store.subscription(id: id) else { throw ServiceError(404, "not_found", "there is no subscription \(id)") }
        return SubscriptionBody(s, alertStates: s.kind == .alert ? try store.alertStates(subscriptionID: id) : nil)
    }

    /// A subscription from a request body (`SubscriptionInput`); its secret sealed before it is stored.
    public func create(_ object: JSONObject, by token: String, role: Role) throws -> SubscriptionBody {
        let parsed: (Subscription, secret: String?)
        do {
            parsed = try SubscriptionInput.parse(object, catalog: store.catalog, dashboards: Set(dashboards().map(\.slug)), by: token, role: role, now: .now())
        } catch { throw ServiceError(422, "invalid_field", error.description) }
        var sealed: [UInt8]?
        if let secret = parsed.secret {
            guard let secrets else {
                throw ServiceError(422, "invalid_field", "`secret`: this pingroll keeps no webhook secrets: start serve with --secrets-key-file FILE")
            }
            sealed = secrets.seal(secret)
        }
        guard let stored = try store.createSubscription(parsed.0, sealedSecret: sealed) else {
            throw ServiceError(422, "invalid_field", "`subscriptions`: at most \(Subscription.maxSubscriptions) subscriptions; delete one first")
        }
        return SubscriptionBody(stored)
    }

    public func delete(id: Int64) throws {
        guard try store.deleteSubscription(id: id) else { throw ServiceError(404, "not_found", "there is no subscription \(id)") }
    }

    public func deliveries(subscriptionID: Int64, limit: Int) throws -> DeliveryListBody {
        guard try store.subscription(id: subscriptionID) != nil else { throw ServiceError(404, "not_found", "there is no subscription \(subscriptionID)") }
        return DeliveryListBody(try store.deliveries(subscriptionID: subscriptionID, limit: limit))
    }

    // MARK: The digest

    /// The latest complete week at `now` (a week is complete two days after its end).
    public static func latestCompleteWeek(now: Timestamp, completeAfterMs: Int64 = SeriesPresentation.defaultCompleteAfterMs) -> Int64 {
        latestComplete(.week, now: now, completeAfterMs: completeAfterMs)
    }

    /// The latest complete period of `kind` at `now`.
    public static func latestComplete(_ kind: PeriodKind, now: Timestamp, completeAfterMs: Int64 = SeriesPresentation.defaultCompleteAfterMs) -> Int64 {
        let presentation = SeriesPresentation(completeAfterMs: completeAfterMs, now: now)
        var start = kind.start(of: now)
        while !presentation.isComplete(kind, start: start) { start = kind.previous(before: start) }
        return start
    }

    /// The digest of the week starting `week` for a reader of `role` (names of installations
    /// only for pm and admin) over `dashboardSlugs` (their share panels).
    public func digest(week: Int64, role: Role, dashboardSlugs: [String] = [Subscription.defaultDashboard], now: Timestamp = .now()) throws -> DigestBody {
        try DigestBuilder(store: store, query: query).build(week: week, role: role, dashboards: dashboards().filter { dashboardSlugs.contains($0.slug) },
                                                            publicURL: publicURL, now: now)
    }

    /// What `pingroll digest send` and the schedule do for one subscription and week: enqueue
    /// the digest (once; `resend` adds another on purpose) and answer whether it was new.
    public func enqueueDigest(_ s: Subscription, week: Int64, resend: Bool, now: Timestamp = .now()) throws -> (delivery: Delivery, created: Bool) {
        let body = try digest(week: week, role: s.createdRole, dashboardSlugs: s.dashboards, now: now)
        let document = DigestDocument(subscriptionID: s.id, digest: body)
        let bytes = s.channel == .webhook ? try APIJSON.encode(document) : MailMessage.digest(body, from: mail?.from ?? "pingroll@localhost", to: s.target)
        return try store.enqueueDelivery(subscriptionID: s.id, subject: "digest week:\(isoDate(days: week))", body: bytes, resend: resend, now: now)
    }

    /// Enqueues the digest of the latest complete week for every digest subscription whose
    /// schedule time of this week has come since it was made (once each: the unique subject).
    /// Answers how many were new.
    @discardableResult
    public func enqueueScheduledDigests(now: Timestamp = .now()) throws -> Int {
        let week = Self.latestCompleteWeek(now: now)
        var created = 0
        for s in try store.subscriptions() where s.kind == .digest {
            let schedule = s.schedule ?? Subscription.Schedule()
            let thisWeek = PeriodKind.week.start(of: now)
            let due = (thisWeek &+ Int64(schedule.weekday - 1)) &* 86_400_000 &+ Int64(schedule.hour) &* 3_600_000
            // This week's moment has come, and came after the subscription was made (a new
            // subscription waits for its first schedule, it is not sent last week's at once).
            guard now.milliseconds >= due, due >= s.createdAt.milliseconds else { continue }
            if try enqueueDigest(s, week: week, resend: false, now: now).created { created += 1 }
        }
        return created
    }

    // MARK: Delivering

    /// Claims and sends every due delivery (at most `limit`), one at a time; answers how many
    /// were attempted. Safe to run from several collectors at once: a claim is a conditional update.
    @discardableResult
    public func deliverDue(now: @Sendable () -> Timestamp = { .now() }, limit: Int = 50) throws -> Int {
        var attempted = 0
        for id in try store.dueDeliveries(now: now(), limit: limit) where try attempt(id, now: now) != nil { attempted += 1 }
        return attempted
    }

    /// One attempt of the delivery if it is due and this collector claims it; nil otherwise
    /// (not due, delivered, or another collector has it). Answers the delivery as recorded.
    @discardableResult
    public func attempt(_ id: Int64, now: @Sendable () -> Timestamp = { .now() }) throws -> Delivery? {
        guard let delivery = try store.claimDelivery(id: id, now: now(), leaseMs: Self.leaseMs) else { return nil }
        let outcome = send(delivery)
        let retryAt: Timestamp? = {
            guard case .failed = outcome, let wait = Delivery.retryDelayMs(afterAttempt: delivery.attempts) else { return nil }
            return Timestamp(milliseconds: now().milliseconds &+ wait)
        }()
        try store.recordAttempt(id: id, outcome: outcome, retryAt: retryAt, now: now())
        return try store.delivery(id: id)
    }

    /// One attempt; never throws (a failure is the outcome, recorded on the delivery).
    func send(_ delivery: Delivery) -> Delivery.Outcome {
        let subscription: Subscription
        do {
            guard let s = try store.subscription(id: delivery.subscriptionID) else { return .failed("the subscription was deleted") }
            subscription = s
        } catch { return .failed("cannot read the subscription: \(error.reason)") }
        switch subscription.channel {
        case .webhook:
            guard let secrets else { return .failed("no --secrets-key-file: the webhook secret cannot be opened") }
            let sealed: [UInt8]?
            do { sealed = try store.sealedSecret(subscriptionID: subscription.id) } catch { return .failed("cannot read the webhook secret: \(error.reason)") }
            guard let sealed, let secret = secrets.open(sealed) else {
                return .failed("the webhook secret does not open with this --secrets-key-file (another key sealed it)")
            }
            let signature = "sha256=" + Digest.hex(Digest.hmacSHA256(key: Array(secret.utf8), delivery.body))
            do {
                let answer = try BoundedFetch.post(subscription.target, body: delivery.body,
                                                   headers: [("Content-Type", "application/json"), ("User-Agent", "pingroll"),
                                                             ("X-Pingroll-Signature", signature), ("X-Pingroll-Delivery", delivery.deliveryID)],
                                                   maxAnswerBytes: Self.maxAnswerBytes, timeoutSeconds: Self.webhookTimeoutSeconds)
                return (200...299).contains(answer.status) ? .delivered : .failed("the receiver answered \(answer.status)")
            } catch {
                return .failed(Self.describe(error))
            }
        case .email:
            guard let mail else { return .failed("no SMTP server configured (--smtp-url)") }
            do {
                try MailSend.send(mail, to: subscription.target, message: delivery.body, deliveryID: delivery.deliveryID)
                return .delivered
            } catch {
                return .failed(error.description)
            }
        }
    }

    static func describe(_ failure: BoundedFetch.Failure) -> String {
        switch failure {
        case .tooLarge: "the answer was too large"
        case .timedOut: "no answer within \(Int(webhookTimeoutSeconds)) s"
        case .cancelled: "cancelled"
        case .badEncoding(let why): why
        case .unreachable(let why): "unreachable: \(why)"
        }
    }
}
