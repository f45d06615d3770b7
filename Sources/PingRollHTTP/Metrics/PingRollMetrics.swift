import Foundation
import PingRollCore
import PingRollService
import Prometheus
import Synchronization

/// pingroll's own metrics, in the Prometheus text exposition format at `GET /metrics`.
///
/// Every label value comes from a closed set (route templates, the status codes and error codes
/// pingroll answers with, three outcomes), never from a request, so no client can grow the
/// number of series.
public final class PingRollMetrics: WriteObserver, Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let startTime: Double
    /// The last database figures and when they were read: a scrape reads the database at most
    /// once per `statisticsSeconds`.
    private let cached = Mutex<(at: Double, figures: OperationalStatistics)?>(nil)
    static let statisticsSeconds = 2.0

    public enum IngestOutcome: String, Sendable { case accepted, duplicate, rejected }

    /// Request durations: 1 ms to 30 s.
    static let durationBuckets: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                              .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                              .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30)]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]

    // Series whose labels are known up front are made once; the labelled families are looked
    // up in the registry (which keeps one series per label set) with descriptors made once.
    private let ingestCounters: [IngestOutcome: Counter]
    private let batchSize: ValueHistogram
    private let commitDuration: DurationHistogram
    // MetricNameDescriptor holds only `let` strings but is not marked Sendable.
    nonisolated(unsafe) static let rejections = name("pingroll_ingest_rejections", "total", "Rejected pings by error code")
    nonisolated(unsafe) static let requests = name("pingroll_http_requests", "total", "HTTP requests by route template and status")
    nonisolated(unsafe) static let requestDuration = name("pingroll_http_request_duration", "seconds",
                                      "Time from a request's first byte to its answer being queued, by route template")

    public init(version: String) {
        startTime = Date().timeIntervalSince1970
        registry.makeGauge(descriptor: Self.name("pingroll_build_info", "", "pingroll's version (always 1)"), labels: [("version", version)]).set(Double(1))
        // Present from the start, at 0, so that rate() works from the first scrape.
        let pings = Self.name("pingroll_ingest_pings", "total", "Pings posted, by what became of them")
        var counters: [IngestOutcome: Counter] = [:]
        for outcome in [IngestOutcome.accepted, .duplicate, .rejected] {
            counters[outcome] = registry.makeCounter(descriptor: pings, labels: [("outcome", outcome.rawValue)])
        }
        ingestCounters = counters
        batchSize = registry.makeValueHistogram(descriptor: Self.name("pingroll_write_batch_size", "", "Writes per committed batch"),
                                                buckets: Self.batchBuckets)
        commitDuration = registry.makeDurationHistogram(descriptor: Self.name("pingroll_write_commit_duration", "seconds",
                                                                              "Time to write and commit a batch durably"),
                                                        buckets: Self.durationBuckets)
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: metric, unitName: unit, helpText: help)
    }

    public func ingested(_ outcome: IngestOutcome) { ingestCounters[outcome]?.increment() }

    /// A rejected ping (quarantined), by its error code.
    public func rejected(reason: String) {
        ingested(.rejected)
        registry.makeCounter(descriptor: Self.rejections, labels: [("reason", reason)]).increment()
    }

    public func request(route: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.requestDuration, labels: [("route", route)], buckets: Self.durationBuckets).record(duration)
    }

    public func committed(items: Int, duration: Duration) {
        batchSize.record(Double(items))
        commitDuration.record(duration)
    }

    /// The exposition: the counters and histograms kept as requests go, and gauges read now.
    public func exposition(_ ingest: IngestService) -> [UInt8] {
        gauge("pingroll_write_queue_bytes", "Bytes of writes waiting for the writer").set(Double(ingest.queuedBytes))
        if let figures = figures(ingest) {
            gauge("pingroll_database_bytes", "Size of the database on disk").set(Double(figures.databaseBytes))
            gauge("pingroll_quarantine_entries", "Rejected bodies kept in the quarantine").set(Double(figures.quarantineEntries))
            gauge("pingroll_quarantine_bytes", "Stored bytes of the quarantine").set(Double(figures.quarantineBytes))
            gauge("pingroll_installations", "Distinct installations seen").set(Double(figures.installations))
            if let last = figures.lastPingReceivedAt {
                gauge("pingroll_last_ping_timestamp_seconds", "When the newest stored ping was received (Unix time)").set(Double(last) / 1000)
            }
        }
        let process = ProcessFigures.read()
        gauge("process_resident_memory_bytes", "Resident memory").set(Double(process.residentBytes))
        gauge("process_open_fds", "Open file descriptors").set(Double(process.openDescriptors))
        gauge("process_max_fds", "Limit of open file descriptors").set(Double(process.maxDescriptors))
        gauge("process_start_time_seconds", "When the process started (Unix time)").set(startTime)
        return registry.emitToBuffer()
    }

    private func gauge(_ name: String, _ help: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name(name, "", help))
    }

    private func figures(_ ingest: IngestService) -> OperationalStatistics? {
        let now = Date().timeIntervalSince1970
        if let c = cached.withLock({ $0 }), now - c.at < Self.statisticsSeconds { return c.figures }
        // A database that cannot answer leaves these gauges at their last values; readiness says why.
        guard let figures = try? ingest.operationalStatistics() else { return nil }
        cached.withLock { $0 = (now, figures) }
        return figures
    }
}

/// The process figures Prometheus' client libraries conventionally export, from /proc.
struct ProcessFigures {
    var residentBytes = 0
    var openDescriptors = 0
    var maxDescriptors = 0

    static func read() -> ProcessFigures {
        var f = ProcessFigures()
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { f.residentBytes = pages &* Int(sysconf(Int32(_SC_PAGESIZE))) }
        }
        f.openDescriptors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 1) - 1
        var limit = rlimit()
        if getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 { f.maxDescriptors = Int(clamping: limit.rlim_cur) }
        return f
    }
}

#if os(Linux)
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif
