import ArgumentParser
import Foundation
import PingRollCore
import PingRollHTTP
import PingRollService
import PingRollStore

struct DigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "The weekly digest: send it to the subscriptions now, or show it.",
        subcommands: [Send.self, Show.self]
    )

    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sends a week's digest to each digest subscription that has not had it yet (or --dry-run prints it).",
            discussion: """
                Each subscription gets a week's digest once, whoever sends it (this command, or serve at the \
                subscription's schedule, on any collector of the database): a subscription that had it is \
                skipped and named, unless --resend. A delivery that fails is retried by serve after 1, 5 and \
                30 minutes. Uses serve's --secrets-key-file (webhooks) and --smtp-* (e-mail) settings.
                """
        )
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @OptionGroup var uiOptions: UIOptions
        @OptionGroup var notifyOptions: NotifyOptions
        @Option(help: ArgumentHelp("week:YYYY-MM-DD, a Monday (default: the latest complete week).", valueName: "week:date")) var period: String?
        @Option(help: ArgumentHelp("Only this subscription.", valueName: "id")) var subscription: Int64?
        @Flag(name: .customLong("dry-run"), help: "Print the digest (as each subscription would get it) and send nothing.") var dryRun = false
        @Flag(help: "Send again to subscriptions that had this week's digest already (a new delivery id).") var resend = false

        func run() throws {
            let week = try DigestCommand.week(period)
            let (catalog, _) = try catalogOptions.load()
            // The dashboards alone (the digest's headlines); the pages' Chart.js is not needed here.
            let dashboards = uiOptions.dashboardStore(catalog: catalog)
            let settings = try notifyOptions.settings(database: try DatabaseOptions.parseLocation(db.location), dashboards: { [dashboards] in dashboards.dashboards })
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            let notify = NotifyService.standalone(store: store, settings: settings)
            var subscriptions = try notify.storedSubscriptions().filter { $0.kind == .digest }
            if let subscription {
                subscriptions = subscriptions.filter { $0.id == subscription }
                guard !subscriptions.isEmpty else { throw CommandFailure("there is no digest subscription \(subscription)") }
            }
            if subscriptions.isEmpty { print("no digest subscriptions (POST /api/v1/subscriptions adds one)") }
            for s in subscriptions {
                let name = "subscription \(s.id) (\(s.channel.rawValue) \(s.target))"
                if dryRun {
                    print("\(name):")
                    try Listing.json(try notify.digest(week: week, role: s.createdRole, dashboardSlugs: s.dashboards))
                    continue
                }
                let (delivery, created) = try notify.enqueueDigest(s, week: week, resend: resend)
                if !created && delivery.state == .delivered {
                    print("\(name): skipped, week of \(isoDate(days: week)) was delivered already (delivery \(delivery.deliveryID); --resend sends it again)")
                    continue
                }
                guard let attempt = try notify.attempt(delivery.id) else {
                    print("\(name): \(delivery.state == .sending ? "being sent by another collector" : "waiting for its retry at \(delivery.nextAttemptAt)") (delivery \(delivery.deliveryID))")
                    continue
                }
                switch attempt.state {
                case .delivered: print("\(name): delivered (delivery \(attempt.deliveryID))")
                default: print("\(name): failed: \(attempt.lastError ?? "?")\(attempt.state == .pending ? "; serve retries at \(attempt.nextAttemptAt)" : "") (delivery \(attempt.deliveryID))")
                }
            }
        }
    }
}

extension DigestCommand {
    /// `--period`, or the latest complete week.
    static func week(_ period: String?) throws -> Int64 {
        guard let period else { return NotifyService.latestCompleteWeek(now: .now()) }
        guard let day = PeriodKind.week(named: period) else { throw ValidationError("--period must be week:YYYY-MM-DD, a Monday (got \(period))") }
        return day
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prints a week's digest as JSON, or as the e-mail's text or HTML part.")
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @OptionGroup var uiOptions: UIOptions
        @Option(help: ArgumentHelp("week:YYYY-MM-DD, a Monday (default: the latest complete week).", valueName: "week:date")) var period: String?
        @Option(help: "json, text or html.") var format: String = "json"
        @Option(help: "viewer (no installation or organization names) or pm.") var role: String = "pm"
        @Option(name: .customLong("public-url"), help: "The dashboards' address, for the link.") var publicURL: String?

        func run() throws {
            guard ["json", "text", "html"].contains(format) else { throw ValidationError("--format must be json, text or html") }
            guard let reader = Role(rawValue: role), reader != .admin else { throw ValidationError("--role must be viewer or pm") }
            let week = try DigestCommand.week(period)
            let (catalog, _) = try catalogOptions.load()
            let dashboards = uiOptions.dashboardStore(catalog: catalog)
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            let notify = NotifyService.standalone(store: store, settings: NotifySettings(publicURL: publicURL, dashboards: { [dashboards] in dashboards.dashboards }))
            let digest = try notify.digest(week: week, role: reader)
            switch format {
            case "json": try Listing.json(digest)
            default:
                let parts = MailMessage.parts(digest)
                print(format == "text" ? parts.text : parts.html)
            }
        }
    }
}

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Alert rules: evaluate them now.",
        subcommands: [Evaluate.self]
    )

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluates every alert rule on its latest complete period and sends what changed.",
            discussion: """
                A group whose rule starts holding is notified once (firing), and once when it stops \
                (resolved); the state per group is stored, so running this again, or serve evaluating \
                on another collector, notifies nothing twice. --at evaluates as of another moment (its \
                latest complete period), never going back before a period already evaluated.
                """
        )
        @OptionGroup var db: DatabaseOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @OptionGroup var notifyOptions: NotifyOptions
        @Option(help: ArgumentHelp("Evaluate as of this time (ISO 8601), default now.", valueName: "time")) var at: String?

        func run() throws {
            var now = Timestamp.now()
            if let at {
                guard let t = Timestamp.parseISO8601(at) else { throw ValidationError("--at must be an ISO 8601 time such as 2026-12-07T09:00:00Z (got \(at))") }
                now = t
            }
            let (catalog, _) = try catalogOptions.load()
            let settings = try notifyOptions.settings(database: try DatabaseOptions.parseLocation(db.location), dashboards: { [] })
            let store = try db.openStore(catalog: catalog, mode: .existing)
            defer { store.close() }
            let notify = NotifyService.standalone(store: store, settings: settings)
            let changes = try notify.evaluateAlerts(now: now)
            if changes.isEmpty { print("no alert changed") }
            for change in changes { print(change) }
            // Send what is due now (serve retries what fails).
            let attempted = try notify.deliverDue()
            if attempted > 0 { print("\(attempted) delivery attempts") }
        }
    }
}
