import ArgumentParser
import Foundation
import Glibc
import Logging
import PingRollHTTP
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

    @Flag(name: .customLong("discard-bodies"), help: "Benchmark only: POST /usage_data reads the body and answers 204 without storing anything. Loopback addresses only.")
    var discardBodies = false

    func validate() throws {
        guard maxBodyBytes > 0, maxDecompressedBytes > 0 else { throw ValidationError("body limits must be positive") }
        guard threads > 0, connectionLimit > 0, connectionTimeout > 0 else {
            throw ValidationError("--threads, --connection-limit and --connection-timeout must be positive")
        }
    }

    func run() throws {
        let logger = try logging.bootstrap(label: "pingroll")
        let listenText = listen ?? ProcessInfo.processInfo.environment["PINGROLL_LISTEN"] ?? "127.0.0.1:8080"
        guard let address = ListenAddress(listenText) else {
            throw ValidationError("--listen must be HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:8080 (got \(listenText))")
        }

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
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let (catalog, catalogPath) = try catalogOptions.load()
        let ui = try uiOptions.load(catalog: catalog)
        if ui.chartJS == nil {
            logger.warning("Chart.js is not at \(ui.chartJSPath): the dashboard UI cannot draw charts (apt-get install libjs-chart.js)")
        }
        let store = try db.openStore(catalog: catalog)
        do {
            let applied = try store.migrate()
            for m in applied { logger.info("applied migration \(m.version): \(m.name)") }
            let stale = try store.prepareRollups()
            logger.info("metric catalog loaded", metadata: ["path": "\(catalogPath)", "metrics": "\(catalog.metrics.count)"])
            if !stale.isEmpty {
                logger.warning("rollups of these metrics are stale (new or changed in the catalog since pings were stored) and are not maintained until `pingroll rollup rebuild` runs",
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
        serverLimits.connectionLimit = connectionLimit
        serverLimits.connectionTimeoutSeconds = connectionTimeout

        let committer = GroupCommitter(store: store, logger: logger)
        let responder = PingRollResponder(store: store, committer: committer, limits: ingestLimits, ui: ui, logger: logger)
        let server: MHDServer
        do {
            server = try MHDServer(listen: address, responder: responder, limits: serverLimits, logger: logger)
        } catch {
            committer.shutdown()
            store.close()
            throw CommandFailure("\(error)")
        }
        logger.info("listening on http://\(server.address)", metadata: ["database": "\(db.displayLocation)", "dashboards": "\(ui.dashboards.count)"])

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("received \(received == SIGINT ? "SIGINT" : "SIGTERM"), shutting down")
        server.shutdown()
        committer.shutdown()
        store.close()
        logger.info("stopped")
    }
}
