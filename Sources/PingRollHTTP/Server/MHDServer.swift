import CMicroHTTPD
import Glibc
import Logging
import Synchronization

/// Tunables of the HTTP server.
public struct ServerLimits: Sendable {
    /// Maximum simultaneous connections; more are refused by the kernel backlog.
    public var connectionLimit = 1024
    /// Seconds a connection may stay idle (including mid-upload) before it is closed.
    public var connectionTimeoutSeconds = 30
    /// Threads polling connections (epoll); the number of cores was fastest in measurements.
    public var threadPoolSize = 2
    /// Per-connection read buffer (also caps header size); 128 KiB was fastest for 100 KB bodies.
    public var connectionMemoryLimit = 128 * 1024

    public init() {}
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
}

/// An HTTP/1.1 server on libmicrohttpd that hands requests to an `HTTPResponder`.
///
/// Internal epoll threads (a pool) read requests; a request whose responder answers later is
/// suspended (`MHD_suspend_connection`) so it holds no thread while it waits, and resumed when the
/// answer arrives. A stalled upload holds no thread either, and is closed after the idle timeout.
public final class MHDServer: Sendable {
    /// The address actually bound (with the real port when 0 was asked for).
    public let address: ListenAddress
    // The daemon pointer is owned by this object; libmicrohttpd synchronises its own use of it.
    private nonisolated(unsafe) let daemon: OpaquePointer
    private let context: Unmanaged<ServerContext>
    private let stopped = Mutex(false)

    public init(listen: ListenAddress, responder: any HTTPResponder, limits: ServerLimits = ServerLimits(),
                logger: Logger) throws(ServerStartError) {
        let context = Unmanaged.passRetained(ServerContext(responder: responder, logger: logger))
        var flags = MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
        if listen.isIPv6 { flags |= MHD_USE_IPv6.rawValue }
        let started: OpaquePointer? = listen.withSockaddr(port: listen.port) { sockaddrPointer in
            guard let sockaddrPointer else { return nil }
            var options: [MHD_OptionItem] = [
                MHD_OptionItem(option: .SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(mutating: sockaddrPointer)),
                MHD_OptionItem(option: .THREAD_POOL_SIZE, value: max(1, limits.threadPoolSize), ptr_value: nil),
                MHD_OptionItem(option: .CONNECTION_LIMIT, value: limits.connectionLimit, ptr_value: nil),
                MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: limits.connectionTimeoutSeconds, ptr_value: nil),
                MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: limits.connectionMemoryLimit, ptr_value: nil),
                MHD_OptionItem(option: .NOTIFY_COMPLETED,
                               value: Int(bitPattern: unsafeBitCast(MHDCallbacks.requestCompleted, to: UnsafeRawPointer.self)),
                               ptr_value: context.toOpaque()),
                MHD_OptionItem(option: .END, value: 0, ptr_value: nil),
            ]
            return options.withUnsafeMutableBufferPointer { buffer in
                pingroll_mhd_start(flags, listen.port, MHDCallbacks.accessHandler, context.toOpaque(), buffer.baseAddress)
            }
        }
        guard let started else {
            context.release()
            throw ServerStartError(description: "cannot listen on \(listen): the address is invalid or in use")
        }
        daemon = started
        self.context = context
        address = ListenAddress(host: listen.host, port: pingroll_mhd_bound_port(started))
    }

    /// Requests that have started and not yet completed.
    public var activeRequests: Int { context.takeUnretainedValue().activeRequests.load(ordering: .relaxed) }

    /// Stops accepting connections, lets in-flight requests finish (up to `graceSeconds`), then
    /// closes every connection and stops the threads.
    public func shutdown(graceSeconds: Double = 30) {
        let already = stopped.withLock { s -> Bool in defer { s = true }; return s }
        guard !already else { return }
        let listenSocket = MHD_quiesce_daemon(daemon)
        if listenSocket >= 0 { close(listenSocket) }
        let context = context.takeUnretainedValue()
        var waited = 0.0
        while context.activeRequests.load(ordering: .acquiring) > 0 && waited < graceSeconds {
            usleep(10_000)
            waited += 0.01
        }
        if context.activeRequests.load(ordering: .acquiring) > 0 {
            context.logger.warning("stopping with requests still in flight",
                                   metadata: ["count": "\(context.activeRequests.load(ordering: .relaxed))"])
        }
        MHD_stop_daemon(daemon)
        self.context.release()
    }
}

/// What the C callbacks need, reached through the daemon's `cls` pointer.
final class ServerContext: Sendable {
    let responder: any HTTPResponder
    let logger: Logger
    let activeRequests = Atomic<Int>(0)

    init(responder: any HTTPResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }
}
