import Foundation
import Synchronization

/// `serve`'s own thread for subscriptions: every `--alert-interval` it evaluates the alert rules;
/// every few seconds it enqueues the digests whose schedule came (once each: enqueueing is idempotent across collectors) and sends what is due.
/// Network waits happen here, never on the ingest or API lanes; each send is bounded (10 s for a
/// webhook, the SMTP timeout for mail).
public final class DeliveryLoop: Sendable {
    let notify: NotifyService
    let intervalSeconds: Double
    let alertIntervalSeconds: Double
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(notify: NotifyService, intervalSeconds: Double = 5, alertIntervalSeconds: Double = 3600) {
        self.notify = notify
        self.intervalSeconds = max(0.05, intervalSeconds)
        self.alertIntervalSeconds = max(0.05, alertIntervalSeconds)
    }

    public func start(log: @escaping @Sendable (String, Bool) -> Void) {
        started.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            defer { finished.signal() }
            LanePriority.lowerCurrentThread(to: LanePriority.longWork)
            var lastFailure = ""
            var alertsDue = Date()
            while !stopping.load(ordering: .acquiring) {
                do {
                    if Date() >= alertsDue {
                        alertsDue = Date().addingTimeInterval(alertIntervalSeconds)
                        for change in try notify.evaluateAlerts() { log("alerts: \(change)", true) }
                    }
                    try notify.enqueueScheduledDigests()
                    let sent = try notify.deliverDue()
                    if sent > 0 { log("subscriptions: \(sent) delivery attempts", true) }
                    lastFailure = ""
                } catch {
                    // Once per distinct failure, not every few seconds.
                    let text = "\(error)"
                    if text != lastFailure { log("subscriptions: \(text) (tried again every \(intervalSeconds) s)", false) }
                    lastFailure = text
                }
                let until = Date().addingTimeInterval(intervalSeconds)
                while Date() < until && !stopping.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: min(0.1, intervalSeconds)) }
            }
        }
        thread.name = "pingroll-deliveries"
        thread.start()
    }

    /// Stops after the attempt in progress.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        if started.load(ordering: .acquiring) { finished.wait() }
    }
}
