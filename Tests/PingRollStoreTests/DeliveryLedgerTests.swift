import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// Subscriptions and their deliveries on both backends: enqueued once per subject whatever the
/// number of collectors, claimed by one, reclaimed with the same delivery id after a lease ran
/// out, retried and failed as recorded.
@Suite struct DeliveryLedgerTests {
    static func subscription(_ n: Int = 0) -> Subscription {
        Subscription(kind: .digest, channel: .webhook, target: "https://hooks.example.com/\(n)", schedule: .init(), dashboards: ["registry-metadata-db"],
                     createdBy: "pm", createdRole: .pm, createdAt: Timestamp(milliseconds: 1_000))
    }

    @Test(arguments: Backend.available)
    func aDeliveryIsEnqueuedOnceAndClaimedByOneCollector(backend: Backend) throws {
        let db = TestDatabase(backend)
        let a = try db.open()
        let b = try db.open(migrate: false)
        defer { a.close(); b.close() }
        let key = try #require(SecretBox(key: Array(repeating: 7, count: 32)))
        let s = try #require(try a.createSubscription(Self.subscription(), sealedSecret: key.seal("0123456789abcdef")))
        #expect(s.id > 0 && s.hasSecret)
        #expect(try b.subscription(id: s.id) == s)
        let sealed = try #require(try b.sealedSecret(subscriptionID: s.id))
        #expect(key.open(sealed) == "0123456789abcdef" && SecretBox(key: Array(repeating: 8, count: 32))!.open(sealed) == nil)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("0123456789abcdef"), "the database holds no secret in clear")

        let t0 = Timestamp(milliseconds: 10_000_000)
        let first = try a.enqueueDelivery(subscriptionID: s.id, subject: "digest week:2026-11-30", body: Array("{}".utf8), resend: false, now: t0)
        let second = try b.enqueueDelivery(subscriptionID: s.id, subject: "digest week:2026-11-30", body: Array("{\"other\":1}".utf8), resend: false, now: t0)
        #expect(first.created && !second.created && first.delivery.id == second.delivery.id && second.delivery.body == Array("{}".utf8))
        #expect(first.delivery.deliveryID.count == 32)
        // Both collectors try at once: one claim wins.
        #expect(try a.dueDeliveries(now: t0, limit: 10) == [first.delivery.id])
        let claimA = try a.claimDelivery(id: first.delivery.id, now: t0, leaseMs: 60_000)
        let claimB = try b.claimDelivery(id: first.delivery.id, now: t0, leaseMs: 60_000)
        #expect(claimA != nil && claimB == nil)
        #expect(claimA?.attempts == 1 && claimA?.state == .sending)
        // The claimer died between sending and recording: after the lease, the other sends it again, same id.
        #expect(try b.dueDeliveries(now: Timestamp(milliseconds: t0.milliseconds + 30_000), limit: 10).isEmpty)
        let reclaimed = try #require(try b.claimDelivery(id: first.delivery.id, now: Timestamp(milliseconds: t0.milliseconds + 61_000), leaseMs: 60_000))
        #expect(reclaimed.deliveryID == first.delivery.deliveryID && reclaimed.attempts == 2)
        try b.recordAttempt(id: reclaimed.id, outcome: .failed("the receiver answered 500"), retryAt: Timestamp(milliseconds: t0.milliseconds + 400_000),
                            now: Timestamp(milliseconds: t0.milliseconds + 62_000))
        var listed = try a.deliveries(subscriptionID: s.id, limit: 10)
        #expect(listed.count == 1 && listed[0].state == .pending && listed[0].lastError == "the receiver answered 500" && listed[0].body.isEmpty)
        #expect(try a.claimDelivery(id: first.delivery.id, now: Timestamp(milliseconds: t0.milliseconds + 100_000), leaseMs: 60_000) == nil, "not due yet")
        let third = try #require(try a.claimDelivery(id: first.delivery.id, now: Timestamp(milliseconds: t0.milliseconds + 400_000), leaseMs: 60_000))
        try a.recordAttempt(id: third.id, outcome: .delivered, retryAt: nil, now: Timestamp(milliseconds: t0.milliseconds + 401_000))
        #expect(try a.claimDelivery(id: first.delivery.id, now: Timestamp(milliseconds: t0.milliseconds + 999_000_000), leaseMs: 60_000) == nil, "delivered is final")
        // A deliberate resend is a new generation with a new delivery id.
        let again = try a.enqueueDelivery(subscriptionID: s.id, subject: "digest week:2026-11-30", body: Array("{}".utf8), resend: true, now: t0)
        #expect(again.created && again.delivery.generation == 1 && again.delivery.deliveryID != first.delivery.deliveryID)
        let failing = try #require(try a.claimDelivery(id: again.delivery.id, now: t0, leaseMs: 60_000))
        try a.recordAttempt(id: failing.id, outcome: .failed("unreachable"), retryAt: nil, now: t0)
        listed = try a.deliveries(subscriptionID: s.id, limit: 10)
        #expect(listed.map(\.state) == [.failed, .delivered])
        // Deleting the subscription deletes its deliveries.
        #expect(try a.deleteSubscription(id: s.id) && !(try a.deleteSubscription(id: s.id)))
        #expect(try a.deliveries(subscriptionID: s.id, limit: 10).isEmpty)
    }

    @Test(arguments: Backend.available)
    func atMostAHundredSubscriptions(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        for n in 0..<Subscription.maxSubscriptions { #expect(try store.createSubscription(Self.subscription(n), sealedSecret: nil) != nil) }
        #expect(try store.createSubscription(Self.subscription(), sealedSecret: nil) == nil)
        #expect(try store.subscriptions().count == Subscription.maxSubscriptions)
    }

    @Test func hmacMatchesRFC4231() {
        #expect(Digest.hex(Digest.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
