import Foundation
import CMicroHTTPD
import Glibc
import Logging
import PingRollCore  // LogLimiter
import Synchronization

/// Tunables of the HTTP server.
public struct ServerLimits: Sendable {
    /// Maximum simultaneous connections; more wait in the kernel backlog. Each costs a file
    /// descriptor and, while it sends, up to `connectionMemoryLimit`.
    public var connectionLimit = 4096
    /// Seconds a connection may stay idle (including mid-upload) before it is closed.
    public var connectionTimeoutSeconds = 30
    /// Threads polling connections (epoll); the number of cores was fastest in measurements.
    public var threadPoolSize = 2
    /// Per-connection read buffer (also caps header size); 128 KiB was fastest for 100 KB bodies.
    public var connectionMemoryLimit = 128 * 1024
    /// Simultaneous connections from one client address (libmicrohttpd refuses more at once).
    public var connectionsPerAddress = 64
    /// Seconds a connection has to deliver a whole request head, counted from its start or the
    /// end of its previous request; also the grace period before the body rate is checked.
    public var headTimeoutSeconds = 10.0
    /// Slowest average body upload accepted once `headTimeoutSeconds` have passed, in bytes/s.
    public var minBodyBytesPerSecond = 1024
    /// Request bodies buffered at once, all connections together; past it new bodies get 503.
    public var bodyMemoryBytes = 256 << 20
    /// Seconds SIGTERM waits for in-flight requests before answering the rest 503.
    public var shutdownGraceSeconds = 10.0
    /// The GnuTLS priority string HTTPS starts from; `TLSCredentials.floor` is always appended,
    /// so TLS 1.0 and 1.1 stay off whatever it says (RFC 8996).
    public var tlsPriority = ServerLimits.defaultTLSPriority

    public static let defaultTLSPriority = "NORMAL"
    /// Appended to every priority string: nothing below TLS 1.2.
    public static let tlsFloor = ":-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL"

    /// The priority string a TLS daemon is started with.
    public var effectiveTLSPriority: String { tlsPriority + Self.tlsFloor }

    public init() {}
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
}

/// A certificate chain and its private key, PEM-encoded, for HTTPS.
public struct TLSCredentials: Sendable, Equatable {
    public var certificatePEM: String
    public var keyPEM: String

    public init(certificatePEM: String, keyPEM: String) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }
}

/// The daemons connections are handed to, and those retired by a certificate reload that still
/// serve the connections they had. A daemon is an opaque handle libmicrohttpd synchronises.
struct DaemonSet: @unchecked Sendable {
    var daemons: [OpaquePointer]
    /// The PEM copies a TLS daemon was started with, freed once it stops.
    var pem: [UnsafeMutablePointer<CChar>] = []

    func stop() {
        for daemon in daemons { MHD_stop_daemon(daemon) }
        for p in pem { free(p) }
    }

    var connections: Int { daemons.reduce(0) { $0 + Int(pingroll_mhd_connection_count($1)) } }
}

/// The current daemon set and the retired ones, shared with the gate and the retiring thread.
final class DaemonRegistry: Sendable {
    let sets: Mutex<(current: DaemonSet, retired: [DaemonSet])>
    /// Set when shutdown begins; shutdown then stops every set itself.
    let stopping = Atomic<Bool>(false)

    init(_ first: DaemonSet) { sets = Mutex((first, [])) }
}

/// An HTTP/1.1 server on libmicrohttpd that hands requests to an `HTTPResponder`.
///
/// Internal epoll threads (a pool) read requests; a request whose responder answers later is
/// suspended (`MHD_suspend_connection`) so it holds no thread while it waits, and resumed when the
/// answer arrives. A stalled upload holds no thread either, and is closed after the idle timeout.
public final class MHDServer: Sendable {
    /// The address actually bound (with the real port when 0 was asked for).
    public let address: ListenAddress
    /// Whether this server speaks HTTPS.
    public let isTLS: Bool
    /// The daemons new connections go to, and those a reload retired.
    private let registry: DaemonRegistry
    private let context: Unmanaged<ServerContext>

    public init(listen: ListenAddress, responder: any HTTPResponder, limits: ServerLimits = ServerLimits(),
                logger: Logger, tls: TLSCredentials? = nil) throws(ServerStartError) {
        if tls != nil && pingroll_mhd_supports_tls() == 0 {
            throw ServerStartError(description: "this libmicrohttpd was built without TLS; HTTPS is not available")
        }
        if LibraryErrorBodies.installed < LibraryErrorBodies.replacements.count {
            logger.warning("libmicrohttpd's own error answers could not all be made JSON (a different library version?)",
                           metadata: ["rewritten": "\(LibraryErrorBodies.installed)", "expected": "\(LibraryErrorBodies.replacements.count)"])
        }
        let listenFD = try Self.listenSocket(listen, headBytes: limits.connectionMemoryLimit)
        let context = Unmanaged.passRetained(ServerContext(responder: responder, logger: logger, limits: limits))
        let first: DaemonSet
        do {
            first = try Self.startDaemons(limits: limits, isIPv6: listen.isIPv6, context: context, tls: tls)
        } catch {
            context.release()
            close(listenFD)
            throw error
        }
        registry = DaemonRegistry(first)
        isTLS = tls != nil
        self.context = context
        address = ListenAddress(host: listen.host, port: Self.boundPort(listenFD))
        // The daemons outlive the gate: shutdown stops the gate first.
        let next = Atomic<Int>(0)
        let shared = context.takeUnretainedValue()
        let registry = self.registry
        do {
            // HTTPS: the gate cannot read an encrypted head; it hands a connection over once its
            // first bytes (the TLS hello) arrive, and libmicrohttpd checks the head.
            gate = try HeadGate(listenFD: listenFD, limits: limits, addresses: shared.addresses, passthrough: tls != nil, handOver: { fd, address, length, client in
                let daemon = registry.sets.withLock { $0.current.daemons[next.wrappingAdd(1, ordering: .relaxed).oldValue % $0.current.daemons.count] }
                // libmicrohttpd owns (and on failure closes) the socket from here on; once it
                // has it, the connection-closed notification gives the address's slot back.
                if MHD_add_connection(daemon, fd, address, length) != .YES {
                    let reason = errno
                    shared.addresses.release(client)
                    let (admitted, suppressed) = shared.logLimiter.admit("add connection")
                    if admitted {
                        shared.logger.error("libmicrohttpd refused a connection (closed unanswered)",
                                            metadata: ["errno": "\(reason)", "similar_lines_suppressed": "\(suppressed)"])
                    }
                }
            }, rejected: { rejection, head, client in
                responder.headRejected(rejection.error, target: rejection.target, rawHead: head, remoteAddress: client)
            })
        } catch {
            first.stop()
            context.release()
            close(listenFD)
            throw error
        }
        let gateForReport = gate
        let lastGate = Mutex(HeadGate.Counters())
        context.takeUnretainedValue().connections.start { [logger] cut in
            let g = gateForReport.counts
            let previous = lastGate.withLock { p -> HeadGate.Counters in defer { p = g }; return p }
            let gateHeads = g.headTimeouts - previous.headTimeouts, framing = g.answered - previous.answered, refused = g.refused - previous.refused
            guard cut.headTimeouts + cut.slowBodies + cut.abandoned + gateHeads + framing + refused > 0 else { return }
            logger.notice("closed slow or abandoned connections in the last minute", metadata: [
                "head_timeouts": "\(cut.headTimeouts + gateHeads)", "slow_bodies": "\(cut.slowBodies)",
                "abandoned": "\(cut.abandoned)", "framing_errors": "\(framing)", "refused_per_address": "\(refused)",
            ])
        }
        gate.start()
    }

    /// One daemon per thread, each with its own epoll thread, fed by the gate in turn.
    /// (libmicrohttpd 0.9.75's own thread pool can leave connections added with
    /// MHD_add_connection unprocessed until a timeout wakes the worker.)
    private static func startDaemons(limits: ServerLimits, isIPv6: Bool, context: Unmanaged<ServerContext>,
                                     tls: TLSCredentials?) throws(ServerStartError) -> DaemonSet {
        let count = max(1, limits.threadPoolSize)
        var set = DaemonSet(daemons: [])
        var pem: TLSStrings?
        if let tls {
            guard let key = strdup(tls.keyPEM), let certificate = strdup(tls.certificatePEM), let priority = strdup(limits.effectiveTLSPriority) else {
                throw ServerStartError(description: "cannot copy the TLS key and certificate")
            }
            set.pem = [key, certificate, priority]
            pem = TLSStrings(key: UnsafePointer(key), certificate: UnsafePointer(certificate), priority: UnsafePointer(priority))
        }
        for _ in 0..<count {
            guard let daemon = startDaemon(limits: limits, isIPv6: isIPv6, perDaemonLimit: (limits.connectionLimit + count - 1) / count,
                                           context: context, pem: pem) else {
                // The PEM copies are freed with the set, after the probe below has used them.
                defer { set.stop() }
                guard let pem else { throw ServerStartError(description: "cannot start the HTTP server (libmicrohttpd refused its options)") }
                // Which of the two was refused: the same credentials with the default priorities.
                var plain = limits
                plain.tlsPriority = ServerLimits.defaultTLSPriority
                if limits.tlsPriority != plain.tlsPriority, let defaultPriority = strdup(plain.effectiveTLSPriority) {
                    defer { free(defaultPriority) }
                    var probe = pem
                    probe.priority = UnsafePointer(defaultPriority)
                    if let daemon = startDaemon(limits: plain, isIPv6: isIPv6, perDaemonLimit: 1, context: context, pem: probe) {
                        MHD_stop_daemon(daemon)
                        throw ServerStartError(description: "--tls-priority `\(limits.tlsPriority)` is not a GnuTLS priority string GnuTLS accepts (such as NORMAL or SECURE256:-VERS-TLS1.2)")
                    }
                }
                throw ServerStartError(description: "cannot start the HTTPS server: the certificate or key is not valid PEM, or they do not belong together")
            }
            set.daemons.append(daemon)
        }
        return set
    }

    /// The C strings a TLS daemon is started with.
    struct TLSStrings {
        var key: UnsafePointer<CChar>
        var certificate: UnsafePointer<CChar>
        var priority: UnsafePointer<CChar>
    }

    private static func startDaemon(limits: ServerLimits, isIPv6: Bool, perDaemonLimit: Int, context: Unmanaged<ServerContext>,
                                    pem: TLSStrings?) -> OpaquePointer? {
        var flags = MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_NO_LISTEN_SOCKET.rawValue
            | MHD_USE_ITC.rawValue
        if isIPv6 { flags |= MHD_USE_IPv6.rawValue }
        if pem != nil { flags |= MHD_USE_TLS.rawValue }
        var options: [MHD_OptionItem] = []
        if let pem {
            options.append(MHD_OptionItem(option: .HTTPS_MEM_KEY, value: 0, ptr_value: UnsafeMutableRawPointer(mutating: pem.key)))
            options.append(MHD_OptionItem(option: .HTTPS_MEM_CERT, value: 0, ptr_value: UnsafeMutableRawPointer(mutating: pem.certificate)))
            options.append(MHD_OptionItem(option: .HTTPS_PRIORITIES, value: 0, ptr_value: UnsafeMutableRawPointer(mutating: pem.priority)))
        }
        options += [
            MHD_OptionItem(option: .CONNECTION_LIMIT, value: perDaemonLimit, ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: limits.connectionTimeoutSeconds, ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: limits.connectionMemoryLimit, ptr_value: nil),
            MHD_OptionItem(option: .NOTIFY_CONNECTION,
                           value: Int(bitPattern: unsafeBitCast(MHDCallbacks.connectionChanged, to: UnsafeRawPointer.self)),
                           ptr_value: context.toOpaque()),
            MHD_OptionItem(option: .URI_LOG_CALLBACK,
                           value: Int(bitPattern: unsafeBitCast(MHDCallbacks.targetReceived, to: UnsafeRawPointer.self)),
                           ptr_value: nil),
            MHD_OptionItem(option: .NOTIFY_COMPLETED,
                           value: Int(bitPattern: unsafeBitCast(MHDCallbacks.requestCompleted, to: UnsafeRawPointer.self)),
                           ptr_value: context.toOpaque()),
            MHD_OptionItem(option: .END, value: 0, ptr_value: nil),
        ]
        return options.withUnsafeMutableBufferPointer { buffer in
            pingroll_mhd_start(flags, 0, MHDCallbacks.accessHandler, context.toOpaque(), buffer.baseAddress)
        }
    }

    private let gate: HeadGate

    /// A non-blocking listening socket bound to `listen`.
    private static func listenSocket(_ listen: ListenAddress, headBytes: Int) throws(ServerStartError) -> Int32 {
        let fd = socket(listen.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServerStartError(description: "cannot create a socket: errno \(errno)") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        // Accepted sockets inherit a receive buffer that holds a whole head of the largest size,
        // so the gate can see that it is too large (the kernel caps this at net.core.rmem_max).
        var receiveBuffer = Int32(clamping: 2 * headBytes)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        let bound = listen.withSockaddr(port: listen.port) { address -> Bool in
            guard let address else { return false }
            let length = socklen_t(listen.isIPv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
            return bind(fd, address, length) == 0 && Glibc.listen(fd, 4096) == 0
        }
        guard bound else {
            close(fd)
            throw ServerStartError(description: "cannot listen on \(listen): the address is invalid or in use")
        }
        return fd
    }

    private static func boundPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let family = Int32(address.ss_family)
        return withUnsafePointer(to: &address) { pointer in
            family == AF_INET6
                ? UInt16(bigEndian: pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port })
                : UInt16(bigEndian: pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port })
        }
    }

    /// Requests that have started and not yet completed.
    public var activeRequests: Int { context.takeUnretainedValue().activeRequests.load(ordering: .relaxed) }

    /// Stops the server so that every answer already promised is sent and nothing is left
    /// suspended (libmicrohttpd aborts the process when stopped with suspended connections):
    ///
    /// 1. the listening socket closes; every answer from now on says `Connection: close`, and new
    ///    requests on kept-alive connections get 503 `shutting_down`;
    /// 2. in-flight requests finish, up to `limits.shutdownGraceSeconds`;
    /// 3. requests still waiting for the store are answered 503 (their write may still commit:
    ///    the client retries and the duplicate is recognised), then the daemon stops.
    public func shutdown() {
        // Also tells the retiring thread to leave the rest to this function.
        guard !registry.stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let context = context.takeUnretainedValue()
        context.draining.store(true, ordering: .releasing)
        gate.stop()
        let grace = ConnectionGuard.now() &+ UInt64(max(0, context.limits.shutdownGraceSeconds) * 1e9)
        while context.activeRequests.load(ordering: .acquiring) > 0 && ConnectionGuard.now() < grace {
            usleep(5_000)
        }
        if context.activeRequests.load(ordering: .acquiring) > 0 {
            context.logger.warning("stopping with requests still in flight; those waiting for the store are answered 503",
                                   metadata: ["count": "\(context.activeRequests.load(ordering: .relaxed))"])
            // Bodies completing from now on are answered 503 at once, never suspended.
            context.refusing.store(true, ordering: .releasing)
            let end = ConnectionGuard.now() &+ 2_000_000_000
            repeat {
                context.answerAwaiting(MHDCallbacks.shuttingDown)
                usleep(20_000)
            } while context.awaitingCount > 0 && ConnectionGuard.now() < end
        }
        context.connections.stop()
        let all = registry.sets.withLock { [$0.current] + $0.retired }
        for set in all { set.stop() }
        self.context.release()
    }

    /// Serves new connections with `tls` from now on, without dropping any: new daemons take
    /// the new connections, and the old ones stop once the connections they hold have ended
    /// (a kept-alive idle one ends at the connection timeout). On failure the old certificate
    /// stays in use.
    public func reloadCertificate(_ tls: TLSCredentials) throws(ServerStartError) {
        guard isTLS else { throw ServerStartError(description: "this server does not speak HTTPS") }
        guard !registry.stopping.load(ordering: .acquiring) else { return }
        let context = context.takeUnretainedValue()
        let fresh = try Self.startDaemons(limits: context.limits, isIPv6: address.isIPv6, context: self.context, tls: tls)
        registry.sets.withLock { s in
            s.retired.append(s.current)
            s.current = fresh
        }
        let registry = self.registry
        let thread = Thread {
            while true {
                usleep(100_000)
                var done = false
                registry.sets.withLock { s in
                    if registry.stopping.load(ordering: .acquiring) { done = true; return }
                    // Stopped only once idle: stopping a daemon with a suspended connection aborts.
                    let idle = s.retired.filter { $0.connections == 0 }
                    for set in idle { set.stop() }
                    s.retired.removeAll { set in idle.contains { $0.daemons == set.daemons } }
                    done = s.retired.isEmpty
                }
                if done { return }
            }
        }
        thread.name = "pingroll-tls-retire"
        thread.start()
    }
}

/// What the C callbacks need, reached through the daemon's `cls` pointer.
final class ServerContext: Sendable {
    let responder: any HTTPResponder
    let logger: Logger
    let limits: ServerLimits
    let activeRequests = Atomic<Int>(0)
    let connections: ConnectionGuard
    /// Set by `shutdown`: answers close their connection, new requests get 503.
    let draining = Atomic<Bool>(false)
    /// Set late in `shutdown`: complete bodies are answered 503 instead of being handed on.
    let refusing = Atomic<Bool>(false)
    /// Open connections per client address (the gate's and libmicrohttpd's together).
    let addresses: AddressSlots
    let logLimiter = LogLimiter()
    /// Bytes of request bodies buffered now, against `limits.bodyMemoryBytes`.
    let bufferedBodyBytes = Atomic<Int>(0)
    /// Requests handed to the responder and not yet answered.
    private let awaiting = Mutex<[ObjectIdentifier: RequestContext]>([:])

    init(responder: any HTTPResponder, logger: Logger, limits: ServerLimits) {
        self.responder = responder
        self.logger = logger
        self.limits = limits
        addresses = AddressSlots(perAddress: limits.connectionsPerAddress)
        connections = ConnectionGuard(headTimeoutSeconds: limits.headTimeoutSeconds,
                                      minBodyBytesPerSecond: limits.minBodyBytesPerSecond, connectionLimit: limits.connectionLimit)
    }

    /// Takes `bytes` from the body budget; false (and nothing taken) when it would overflow.
    func reserveBody(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var current = bufferedBodyBytes.load(ordering: .relaxed)
        while true {
            let (next, overflow) = current.addingReportingOverflow(bytes)
            guard !overflow, next <= limits.bodyMemoryBytes else { return false }
            let (exchanged, original) = bufferedBodyBytes.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func releaseBody(_ bytes: Int) {
        if bytes > 0 { bufferedBodyBytes.subtract(bytes, ordering: .relaxed) }
    }

    func awaitReply(_ request: RequestContext) { awaiting.withLock { $0[ObjectIdentifier(request)] = request } }

    func replied(_ request: RequestContext) { _ = awaiting.withLock { $0.removeValue(forKey: ObjectIdentifier(request)) } }

    var awaitingCount: Int { awaiting.withLock { $0.count } }

    /// Delivers `response` to every request still waiting for its answer.
    func answerAwaiting(_ response: HTTPResponse) {
        for request in awaiting.withLock({ Array($0.values) }) { request.deliver(response) }
    }
}

/// Counts open connections per client address and refuses more than `perAddress`.
final class AddressSlots: Sendable {
    let perAddress: Int
    private let open = Mutex<[String: Int]>([:])

    init(perAddress: Int) { self.perAddress = max(1, perAddress) }

    /// Takes a slot for `address`; false when it has all it may.
    func take(_ address: String) -> Bool {
        open.withLock { o in
            let n = o[address, default: 0]
            guard n < perAddress else { return false }
            o[address] = n + 1
            return true
        }
    }

    func release(_ address: String) {
        open.withLock { o in
            if let n = o[address], n > 1 { o[address] = n - 1 } else { o[address] = nil }
        }
    }
}
