import ArgumentParser
import Foundation
import PingRollConfig
import PingRollCore
import Glibc
import Logging
import PingRollHTTP
import PingRollService
import PingRollStore

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Runs the collector: GitLab ingest routes, the upload page, health and readiness.",
        discussion: """
            Applies pending migrations, then listens. Logs `listening on http://HOST:PORT` once it \
            accepts connections. SIGINT or SIGTERM stop it cleanly: no new connections, in-flight \
            requests finish, queued writes commit, the database is closed, exit status 0.
            """
    )

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var uiOptions: UIOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var notifyOptions: NotifyOptions

    @Option(name: .long, help: ArgumentHelp("Address to listen on; port 0 picks a free port. Env: PINGROLL_LISTEN.",
                                            valueName: "host:port"))
    var listen: String?

    @Option(name: .long, help: "Largest request body accepted, in bytes (default 8 MiB).")
    var maxBodyBytes: Int = IngestLimits().maxBodyBytes

    @Option(name: .long, help: "Largest body after gzip decompression, in bytes (default 32 MiB).")
    var maxDecompressedBytes: Int = IngestLimits().maxDecompressedBytes

    @Option(name: .long, help: "Server threads (default: the number of cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Maximum simultaneous connections.")
    var connectionLimit: Int = ServerLimits().connectionLimit

    @Option(name: .long, help: "Seconds an idle or stalled connection is kept open.")
    var connectionTimeout: Int = ServerLimits().connectionTimeoutSeconds

    @Option(name: .long, help: "Simultaneous connections from one client address; more are refused at once.")
    var connectionsPerAddress: Int = ServerLimits().connectionsPerAddress

    @Option(name: .long, help: ArgumentHelp("Seconds a connection has to send a whole request head (from its start or its previous request's end); also the grace before --min-body-rate applies.", valueName: "seconds"))
    var headTimeout: Double = ServerLimits().headTimeoutSeconds

    @Option(name: .long, help: ArgumentHelp("Slowest average body upload accepted after --head-timeout, in bytes per second; slower connections are closed. 0 turns the check off.", valueName: "bytes/s"))
    var minBodyRate: Int = ServerLimits().minBodyBytesPerSecond

    @Option(name: .long, help: ArgumentHelp("Request bodies buffered at once over all connections, in bytes (default 256 MiB); past it new bodies get 503 with Retry-After.", valueName: "bytes"))
    var bodyMemoryLimit: Int = ServerLimits().bodyMemoryBytes

    @Option(name: .long, help: ArgumentHelp("Seconds SIGINT/SIGTERM wait for in-flight requests before answering the rest 503.", valueName: "seconds"))
    var shutdownGrace: Double = ServerLimits().shutdownGraceSeconds

    @Option(name: .customLong("api-workers"), help: ArgumentHelp("Threads that answer every route but ingest (the API lane); ingest never waits for them.", valueName: "n"))
    var apiWorkers: Int = APILaneLimits().workers

    @Option(name: .customLong("api-queue"), help: ArgumentHelp("API requests that may wait for a worker; past it, 503 with Retry-After.", valueName: "n"))
    var apiQueue: Int = APILaneLimits().maxQueued

    @Option(name: .customLong("api-request-timeout"), help: ArgumentHelp("Seconds an API request may take (queue included); then 503 `timeout`.", valueName: "seconds"))
    var apiRequestTimeout: Double = APILaneLimits().timeoutSeconds

    @Option(name: .customLong("min-reliable-count"), help: ArgumentHelp("A share (true / (true + false)) read from fewer reports than this is marked low_count: charts draw it hollow and say it is too few to read.", valueName: "n"))
    var minReliableCount: Int = Int(SeriesPresentation.defaultMinReliableCount)

    @Option(name: .customLong("complete-after"), help: ArgumentHelp("How long after a period's end it counts as complete (GitLab retries a failed ping for up to 24 h): 2d, 48h, 90m or seconds.", valueName: "duration"))
    var completeAfter: String = "2d"

    @Option(name: .customLong("viewer-min-count"), help: ArgumentHelp("For viewer tokens, a count from 1 to n-1 in a series cell is answered as null and the point marked suppressed (0: off).", valueName: "n"))
    var viewerMinCount: Int = 0

    @Option(name: .customLong("metrics-allow"), help: ArgumentHelp("A client network (CIDR, or one address) that may read GET /metrics (repeatable). Without any, every client may. Env: PINGROLL_METRICS_ALLOW (comma-separated).", valueName: "network"))
    var metricsAllow: [String] = []

    @Option(name: .customLong("ingest-rate-limit"), help: ArgumentHelp("Requests a minute one client address may make to the ingest routes (a burst of as many is allowed; IPv6 clients count per /64); more get 429 with Retry-After. 0, the default, turns it off: many instances can share one NAT address. Env: PINGROLL_INGEST_RATE_LIMIT.", valueName: "n"))
    var ingestRateLimit: Int?

    @Option(name: .customLong("ingest-allow"), help: ArgumentHelp("A client network (CIDR, or one address) that may post pings (repeatable); without any, every client may. Others get 403. Env: PINGROLL_INGEST_ALLOW (comma-separated).", valueName: "network"))
    var ingestAllow: [String] = []

    @Option(name: .customLong("pull-config"), help: ArgumentHelp("A YAML file listing GitLab instances to pull Service Ping from on a schedule (interval, and instances with name, url and token-file); GET /api/v1/pulls shows how it goes. Env: PINGROLL_PULL_CONFIG.", valueName: "file"))
    var pullConfig: String?

    @Option(name: .customLong("retention-payload-days"), help: ArgumentHelp("Daily, drop the raw payloads of pings recorded more than N days ago; the rollups stay exact (see `pingroll retention apply --help`). Off by default. Env: PINGROLL_RETENTION_PAYLOAD_DAYS.", valueName: "n"))
    var retentionPayloadDays: Int?

    @Option(name: .customLong("retention-report-days"), help: ArgumentHelp("Daily, delete quarantine entries and metadata/error reports received more than N days ago. Off by default. Env: PINGROLL_RETENTION_REPORT_DAYS.", valueName: "n"))
    var retentionReportDays: Int?

    @Flag(name: .customLong("access-log"), help: "Log one line per answered request (method, route template, status, bytes, duration, client address) at info. Env: PINGROLL_ACCESS_LOG=1.")
    var accessLog = false

    @Option(name: .long, help: ArgumentHelp("A YAML file of settings: serve's long options without the dashes (listen: 0.0.0.0:443, metrics-allow: [10.0.0.0/8], access-log: true). The command line wins over the environment, which wins over the file. `pingroll config check FILE` shows the result. Env: PINGROLL_CONFIG.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain: --listen then serves HTTPS (with --tls-key). SIGHUP rereads both files without dropping connections. Env: PINGROLL_TLS_CERT.", valueName: "file"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert. Env: PINGROLL_TLS_KEY.", valueName: "file"))
    var tlsKey: String?

    @Option(name: .customLong("tls-priority"), help: ArgumentHelp("GnuTLS priority string for HTTPS (default NORMAL), checked at start; TLS 1.0 and 1.1 stay off whatever it says (RFC 8996). Raise the floor with e.g. NORMAL:-VERS-TLS1.2. Env: PINGROLL_TLS_PRIORITY.", valueName: "string"))
    var tlsPriority: String?

    @Option(name: .customLong("listen-http"), help: ArgumentHelp("With HTTPS on --listen, also serve plain HTTP here (side by side). Env: PINGROLL_LISTEN_HTTP.", valueName: "host:port"))
    var listenHTTP: String?

    @Flag(name: .customLong("discard-bodies"), help: "Benchmark only: POST /usage_data reads the body and answers 204 without storing anything. Loopback addresses only.")
    var discardBodies = false

    func validate() throws {
        guard maxBodyBytes > 0, maxDecompressedBytes > 0 else { throw ValidationError("body limits must be positive") }
        guard (1...256).contains(threads), (1...65_536).contains(connectionLimit), (1...86_400).contains(connectionTimeout) else {
            throw ValidationError("--threads must be 1 to 256, --connection-limit 1 to 65536, --connection-timeout 1 to 86400")
        }
        guard (1...65_536).contains(connectionsPerAddress) else { throw ValidationError("--connections-per-address must be 1 to 65536") }
        guard headTimeout.isFinite, (0.1...3600).contains(headTimeout) else { throw ValidationError("--head-timeout must be 0.1 to 3600 seconds") }
        guard (0...(1 << 30)).contains(minBodyRate) else { throw ValidationError("--min-body-rate must be 0 to 1073741824 bytes per second") }
        guard bodyMemoryLimit >= maxBodyBytes else {
            throw ValidationError("--body-memory-limit must be at least --max-body-bytes (\(maxBodyBytes)), or no ping of the largest size could ever be received")
        }
        guard shutdownGrace.isFinite, (0...3600).contains(shutdownGrace) else { throw ValidationError("--shutdown-grace must be 0 to 3600 seconds") }
        guard (1...1_000_000).contains(minReliableCount) else { throw ValidationError("--min-reliable-count must be 1 to 1000000") }
        guard SeriesPresentation.duration(completeAfter) != nil else {
            throw ValidationError("--complete-after must be a duration such as 2d, 48h, 90m or 3600 (seconds), at most a year (got \(completeAfter))")
        }
        guard (0...1_000_000).contains(viewerMinCount) else { throw ValidationError("--viewer-min-count must be 0 (off) to 1000000") }
        guard (1...256).contains(apiWorkers), (1...100_000).contains(apiQueue) else {
            throw ValidationError("--api-workers must be 1 to 256 and --api-queue 1 to 100000")
        }
        guard apiRequestTimeout.isFinite, (0.1...3600).contains(apiRequestTimeout) else {
            throw ValidationError("--api-request-timeout must be 0.1 to 3600 seconds")
        }
        _ = try address()
        _ = try plainAddress()
        for text in metricsNetworkTexts where ClientNetwork(text) == nil {
            throw ValidationError("--metrics-allow: `\(text)` is not a network; give one as 10.0.0.0/8, 192.168.1.5 or fd00::/8")
        }
        for text in ingestNetworkTexts where ClientNetwork(text) == nil {
            throw ValidationError("--ingest-allow: `\(text)` is not a network; give one as 10.0.0.0/8, 192.168.1.5 or fd00::/8")
        }
        guard let rate = effectiveIngestRateLimit, (0...1_000_000).contains(rate) else {
            throw ValidationError("--ingest-rate-limit must be 0 (off) to 1000000 requests a minute")
        }
        _ = try retentionPolicy()
        if let priority = effectiveTLSPriority {
            guard (1...1024).contains(priority.utf8.count), priority.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw ValidationError("--tls-priority must be a GnuTLS priority string of printable characters without spaces (such as NORMAL)")
            }
            guard try tlsFiles() != nil else { throw ValidationError("--tls-priority applies to HTTPS; give --tls-cert and --tls-key too") }
        }
    }

    /// `--tls-priority`, or else `PINGROLL_TLS_PRIORITY`; nil for the default.
    var effectiveTLSPriority: String? { tlsPriority ?? Self.environment("PINGROLL_TLS_PRIORITY") }

    /// An environment variable holding a number of seconds (0.05 to a day); nil when unset or not one.
    static func seconds(_ name: String) -> Double? {
        environment(name).flatMap(Double.init).flatMap { $0.isFinite && (0.05...86_400).contains($0) ? $0 : nil }
    }

    /// A non-empty environment variable.
    static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The daily retention policy from `--retention-*-days` or their environment variables.
    func retentionPolicy() throws -> RetentionPolicy {
        func days(_ option: Int?, _ flag: String, _ env: String) throws -> Int? {
            let value: Int?
            if let option {
                value = option
            } else if let text = Self.environment(env) {
                guard let n = Int(text.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("\(env) must be a number of days (got \(text))") }
                value = n
            } else {
                value = nil
            }
            if let value, !RetentionPolicy.dayRange.contains(value) { throw ValidationError("\(flag) must be 1 to 36500 days (got \(value))") }
            return value
        }
        return RetentionPolicy(payloadDays: try days(retentionPayloadDays, "--retention-payload-days", "PINGROLL_RETENTION_PAYLOAD_DAYS"),
                               reportDays: try days(retentionReportDays, "--retention-report-days", "PINGROLL_RETENTION_REPORT_DAYS"))
    }

    /// `--listen`, else `PINGROLL_LISTEN`, else 127.0.0.1:8080.
    func address() throws -> ListenAddress {
        let text = listen ?? ProcessInfo.processInfo.environment["PINGROLL_LISTEN"] ?? "127.0.0.1:8080"
        guard let address = ListenAddress(text) else {
            throw ValidationError("--listen must be HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:8080 (got \(text))")
        }
        return address
    }

    /// `--listen-http`, else `PINGROLL_LISTEN_HTTP`; nil when neither is given.
    func plainAddress() throws -> ListenAddress? {
        guard let text = listenHTTP ?? Self.environment("PINGROLL_LISTEN_HTTP") else { return nil }
        guard let address = ListenAddress(text) else { throw ValidationError("--listen-http must be HOST:PORT (got \(text))") }
        return address
    }

    func run() throws {
        let logger = try logging.bootstrap(label: "pingroll")
        let address = try address()

        if discardBodies {
            guard address.isLoopback else { throw ValidationError("--discard-bodies is for benchmarks on loopback only; --listen must be 127.0.0.1, localhost or [::1]") }
            logger.warning("--discard-bodies: POST /usage_data answers 204 and STORES NOTHING; this mode is for measuring the HTTP ceiling only")
        }

        // Block the stop signals before any thread starts, so every thread inherits the mask and
        // the main thread alone receives them through sigwait.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let tls = try tlsFiles()
        var credentials: TLSCredentials?
        if let tls {
            do { credentials = try Self.readCredentials(tls) } catch { throw CommandFailure("\(error)") }
        }
        let plainAddress = try plainAddress()
        if plainAddress != nil && tls == nil {
            throw ValidationError("--listen-http serves plain HTTP beside HTTPS; without --tls-cert and --tls-key, --listen already serves HTTP")
        }
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (ulimit -f) must fail writes (SQLite reports a full disk), not kill the process.
        signal(SIGXFSZ, SIG_IGN)

        let (catalog, catalogPath) = try catalogOptions.load()
        let ui = try uiOptions.load(catalog: catalog)
        for problem in ui.store.problems {
            logger.error("dashboard definition \(problem.file) left out: \(problem.reason); the other dashboards and ingest are not affected (fix it, then SIGHUP)")
        }
        if ui.dashboards.isEmpty { logger.warning("no dashboard definitions: the dashboard UI has nothing to show") }
        let store = try db.openStore(catalog: catalog, mode: .create)
        if let warning = db.exposureWarning { logger.warning("\(warning)") }
        do {
            let applied = try store.migrate()
            for m in applied { logger.info("applied migration \(m.version): \(m.name)") }
            let stale = try store.prepareRollups()
            logger.info("metric catalog loaded", metadata: ["path": "\(catalogPath)", "metrics": "\(catalog.metrics.count)"])
            if !stale.isEmpty {
                // A changed tuple (installations) needs a full rebuild; metrics alone, their own.
                let full = stale.contains { $0.hasPrefix("(") }
                let command = "pingroll rollup rebuild" + (full ? "" : " " + stale.map { "--metric \($0)" }.joined(separator: " "))
                logger.warning(full
                    ? "the rollups were built by an earlier pingroll whose dimension tuples lack internal and optional_metrics; pings stored before count as not internal with optional_metrics unknown, and stale metrics are not maintained, until you run: \(command)"
                    : "rollups of these metrics are stale (new or changed in the catalog since pings were stored) and are not maintained until you run: \(command)",
                               metadata: ["metrics": "\(stale.joined(separator: ", "))"])
            }
        } catch {
            store.close()
            throw CommandFailure("cannot migrate \(db.displayLocation): \(error)")
        }

        var ingestLimits = IngestLimits()
        ingestLimits.maxBodyBytes = maxBodyBytes
        ingestLimits.maxDecompressedBytes = maxDecompressedBytes
        ingestLimits.discardBodies = discardBodies
        var serverLimits = ServerLimits()
        serverLimits.threadPoolSize = threads
        serverLimits.connectionLimit = Self.fitToDescriptorLimit(connectionLimit, logger: logger)
        serverLimits.connectionTimeoutSeconds = connectionTimeout
        serverLimits.connectionsPerAddress = connectionsPerAddress
        serverLimits.headTimeoutSeconds = headTimeout
        serverLimits.minBodyBytesPerSecond = minBodyRate
        serverLimits.bodyMemoryBytes = bodyMemoryLimit
        serverLimits.shutdownGraceSeconds = shutdownGrace
        serverLimits.tlsPriority = effectiveTLSPriority ?? ServerLimits.defaultTLSPriority

        let metrics = PingRollMetrics(version: PingRollCommand.version)
        let committer = GroupCommitter(store: store, logger: logger, observer: metrics)
        let access = accessLog || ProcessInfo.processInfo.environment["PINGROLL_ACCESS_LOG"] == "1"
        let ingestRate = effectiveIngestRateLimit ?? 0  // validated
        let pulls: ScheduledPulls?
        if let path = pullConfig ?? Self.environment("PINGROLL_PULL_CONFIG") {
            do {
                let config = try PullConfig(path: path)
                pulls = try ScheduledPulls(instances: config.instances, intervalSeconds: config.intervalSeconds, store: store)
            } catch {
                committer.shutdown()
                store.close()
                throw CommandFailure("\(error)")
            }
        } else {
            pulls = nil
        }
        let retention = RetentionSchedule(policy: try retentionPolicy(), store: store,
                                          checkIntervalSeconds: Self.seconds("PINGROLL_RETENTION_CHECK_SECONDS") ?? 600,
                                          firstCheckSeconds: Self.seconds("PINGROLL_RETENTION_FIRST_CHECK_SECONDS") ?? 60)
        let notifySettings: NotifySettings
        do {
            notifySettings = try notifyOptions.settings(database: try DatabaseOptions.parseLocation(db.location), dashboards: { [ui] in ui.dashboards })
        } catch {
            pulls?.stop()
            committer.shutdown()
            store.close()
            throw error
        }
        let services = PingRollServices(store: store, committer: committer, limits: ingestLimits, logger: logger, retention: retention,
                                        notify: notifySettings)
        let deliveries = DeliveryLoop(notify: services.notify, intervalSeconds: Self.seconds("PINGROLL_DELIVERY_CHECK_SECONDS") ?? 5,
                                      alertIntervalSeconds: notifyOptions.alertIntervalSeconds)
        let responder = PingRollResponder(services: services, ui: ui, logger: logger,
                                          metrics: metrics, metricsAllowed: allowedMetricsNetworks, accessLog: access ? Logger(label: "pingroll.access") : nil,
                                          ingestLimiter: ingestRate > 0 ? RateLimiter(perMinute: ingestRate, burst: ingestRate) : nil,
                                          ingestAllowed: ingestNetworkTexts.compactMap(ClientNetwork.init),
                                          pulls: pulls,
                                          presentation: SeriesPresentation(minReliableCount: Int64(minReliableCount), suppressBelow: Int64(viewerMinCount),
                                                                            completeAfterMs: SeriesPresentation.duration(completeAfter) ?? SeriesPresentation.defaultCompleteAfterMs),
                                          catalogSource: { [catalogPath = catalogOptions.resolvedPath()] in try CatalogOptions.load(path: catalogPath).0 },
                                          apiLane: apiLaneLimits)
        var servers: [MHDServer] = []
        do {
            servers.append(try MHDServer(listen: address, responder: responder, limits: serverLimits, logger: logger, tls: credentials))
            if let plainAddress {
                servers.append(try MHDServer(listen: plainAddress, responder: responder, limits: serverLimits, logger: logger))
            }
        } catch {
            for server in servers { server.shutdown() }
            committer.shutdown()
            store.close()
            throw CommandFailure("\(error)")
        }
        do { try responder.jobs.recover() } catch {
            logger.warning("could not look for jobs an earlier run left unfinished: \(error)")
        }
        if let pulls {
            pulls.start(intake: { [responder] in responder.intake }, committer: committer) { [logger] message, ok in
                if ok { logger.info("\(message)") } else { logger.warning("\(message)") }
            }
            logger.info("pulling Service Ping from \(pulls.status.count) instances every \(Int(pulls.interval)) s")
        }
        if let policy = retention.policy {
            retention.start { [logger] message, ok in
                if ok { logger.info("\(message)") } else { logger.warning("\(message)") }
            }
            logger.info("applying retention daily: \(policy.payloadDays.map { "payloads after \($0) days" } ?? "payloads kept"), \(policy.reportDays.map { "reports after \($0) days" } ?? "reports kept")")
        }
        deliveries.start { [logger] message, ok in
            if ok { logger.info("\(message)") } else { logger.warning("\(message)") }
        }
        for server in servers {
            logger.info("listening on \(server.isTLS ? "https" : "http")://\(server.address)",
                        metadata: ["database": "\(db.displayLocation)", "dashboards": "\(ui.dashboards.count)"])
        }

        var received: Int32 = 0
        while true {
            sigwait(&signals, &received)
            guard received == SIGHUP else { break }
            do {
                let reloaded = try responder.reloadCatalog()
                logger.info("SIGHUP: reloaded the metric catalog (\(reloaded.metrics) metrics) and \(reloaded.dashboards) dashboard definitions",
                            metadata: ["catalog": "\(catalogPath)", "dashboards": "\(ui.store.directory ?? "(built-in)")"])
                if !reloaded.stale.isEmpty {
                    let command = "pingroll rollup rebuild" + (reloaded.stale.contains { $0.hasPrefix("(") } ? "" : " " + reloaded.stale.map { "--metric \($0)" }.joined(separator: " "))
                    logger.warning("rollups of these metrics are stale (new or changed in the catalog since pings were stored) and are not maintained until you run: \(command)",
                                   metadata: ["metrics": "\(reloaded.stale.joined(separator: ", "))"])
                }
            } catch {
                logger.error("SIGHUP: kept the catalog in use: \(error)")
                do throws(DashboardStore.Failure) {
                    let reloaded = try ui.store.reload()
                    logger.info("SIGHUP: reloaded \(reloaded.count) dashboard definitions", metadata: ["dashboards": "\(ui.store.directory ?? "(built-in)")"])
                } catch {
                    logger.error("SIGHUP: kept the dashboards in use: \(error)")
                }
            }
            guard let tls, let https = servers.first, https.isTLS else { continue }
            do {
                try https.reloadCertificate(try Self.readCredentials(tls))
                logger.info("SIGHUP: reloaded the TLS certificate; connections already open keep theirs until they end",
                            metadata: ["certificate": "\(tls.certificate)"])
            } catch {
                logger.error("SIGHUP: kept the old TLS certificate: \(error)", metadata: ["certificate": "\(tls.certificate)"])
            }
        }
        logger.info("received \(received == SIGINT ? "SIGINT" : "SIGTERM"), shutting down")
        // A pull waiting on a slow instance is cancelled at once, while the servers stop
        // taking connections and finish what they have.
        pulls?.cancel()
        // A running job stops after its current transaction and stays `running` in the store:
        // the next start fails it as interrupted (or resumes a rebuild).
        responder.jobs.shutdown()
        for server in servers { server.shutdown() }
        pulls?.stop()
        retention.stop()
        deliveries.stop()
        committer.shutdown()
        store.close()
        logger.info("stopped")
    }

    var apiLaneLimits: APILaneLimits {
        var limits = APILaneLimits()
        limits.workers = apiWorkers
        limits.maxQueued = apiQueue
        limits.timeoutSeconds = apiRequestTimeout
        return limits
    }

    /// `--tls-cert` and `--tls-key` (or their environment variables): both or neither.
    func tlsFiles() throws -> (certificate: String, key: String)? {
        let certificate = tlsCert ?? Self.environment("PINGROLL_TLS_CERT")
        let key = tlsKey ?? Self.environment("PINGROLL_TLS_KEY")
        switch (certificate, key) {
        case (nil, nil): return nil
        case (let c?, let k?): return (c, k)
        default: throw ValidationError("HTTPS needs both --tls-cert and --tls-key")
        }
    }

    struct CredentialError: Error, CustomStringConvertible { let description: String }

    /// Reads the PEM files; what they hold is checked when the server starts with them.
    static func readCredentials(_ files: (certificate: String, key: String)) throws -> TLSCredentials {
        func read(_ path: String, _ what: String, _ marker: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CredentialError(description: "cannot read the TLS \(what) \(path)")
            }
            // A certificate chain and a key are a few KiB; anything huge is not one.
            guard data.count <= 1 << 20, let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN "), text.contains(marker),
                  !text.contains("\0") else {
                throw CredentialError(description: "\(path) is not a PEM \(what)")
            }
            return text
        }
        return TLSCredentials(certificatePEM: try read(files.certificate, "certificate", "CERTIFICATE-----"),
                              keyPEM: try read(files.key, "key", "PRIVATE KEY-----"))
    }

    /// `--metrics-allow`, or else `PINGROLL_METRICS_ALLOW`, parsed (validated before start).
    var allowedMetricsNetworks: [ClientNetwork] { metricsNetworkTexts.compactMap(ClientNetwork.init) }

    private var metricsNetworkTexts: [String] { Self.networkTexts(metricsAllow, env: "PINGROLL_METRICS_ALLOW") }

    private var ingestNetworkTexts: [String] { Self.networkTexts(ingestAllow, env: "PINGROLL_INGEST_ALLOW") }

    /// The repeated option's values, or else the comma-separated environment variable's.
    static func networkTexts(_ option: [String], env: String) -> [String] {
        guard option.isEmpty else { return option }
        return (ProcessInfo.processInfo.environment[env] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `--ingest-rate-limit`, else `PINGROLL_INGEST_RATE_LIMIT`, else 0; nil when not a number.
    var effectiveIngestRateLimit: Int? {
        if let ingestRateLimit { return ingestRateLimit }
        guard let text = ProcessInfo.processInfo.environment["PINGROLL_INGEST_RATE_LIMIT"], !text.isEmpty else { return 0 }
        return Int(text.trimmingCharacters(in: .whitespaces))
    }

    /// Raises the soft descriptor limit toward the hard one so `wanted` connections fit (plus
    /// room for the database and logs); when they still cannot, serves fewer and says so.
    static func fitToDescriptorLimit(_ wanted: Int, logger: Logger) -> Int {
        let reserve: rlim_t = 256
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return wanted }
        let needed = rlim_t(wanted) + reserve
        if limit.rlim_cur < needed {
            limit.rlim_cur = min(needed, limit.rlim_max)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        guard limit.rlim_cur < needed else { return wanted }
        let fitted = max(16, Int(limit.rlim_cur) - Int(reserve))
        logger.warning("the file descriptor limit (\(limit.rlim_cur)) allows only \(fitted) connections, not \(wanted); raise `ulimit -n` to serve more")
        return fitted
    }
}
