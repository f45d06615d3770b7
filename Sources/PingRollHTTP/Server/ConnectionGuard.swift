import CMicroHTTPD
import Glibc
import Synchronization

/// Deadlines libmicrohttpd does not enforce: its timeout counts idle time only, so a client that
/// trickles a head or a body byte by byte would hold its connection forever.
///
/// Every open connection is registered with its socket and what it is doing. A watchdog thread
/// closes (`shutdown(2)`, so libmicrohttpd sees the end of the stream and cleans up on its own
/// thread) connections that have not delivered a whole request head within `headTimeout`
/// (counted from the connection's start or its previous request's end), and bodies whose average
/// rate after `headTimeout` seconds is below `minBodyBytesPerSecond`, and clients that left in
/// the middle of a request. With three quarters of the connection limit in use, both deadlines
/// shrink to one second, so an attacker holding slots cannot keep out clients that send at once.
/// Connections waiting for pingroll itself (a commit) are never cut.
///
/// The socket is shut down while holding the table lock, and libmicrohttpd reports a connection
/// closed (which removes it) before it closes the socket, so a shut down socket is always the
/// connection's own and never a reused descriptor.
final class ConnectionGuard: Sendable {
    enum Activity: Sendable { case waitingForHead, readingBody, busy }

    private struct Entry {
        var fd: Int32
        var activity: Activity
        var since: UInt64
        var bytes = 0
        var cut = false
        /// Whether the last sweep found the client gone (and at how many bytes).
        var goneAt: Int?
    }

    struct Counters: Sendable, Equatable {
        var headTimeouts = 0
        var slowBodies = 0
        var abandoned = 0
    }

    let headTimeoutNanos: UInt64
    let minBodyBytesPerSecond: Int
    /// At or above this many open connections the server is under pressure: heads (and the body
    /// grace) get `pressureTimeoutNanos` only, so slots go to clients that send promptly.
    let pressureConnections: Int
    let pressureTimeoutNanos: UInt64 = 1_000_000_000
    private let table = Mutex<[UInt: Entry]>([:])
    private let counters = Mutex(Counters())
    private let stopping = Atomic<Bool>(false)
    private let finished = Mutex(false)

    init(headTimeoutSeconds: Double, minBodyBytesPerSecond: Int, connectionLimit: Int) {
        headTimeoutNanos = UInt64(max(0.05, headTimeoutSeconds) * 1e9)
        self.minBodyBytesPerSecond = max(0, minBodyBytesPerSecond)
        pressureConnections = max(1, connectionLimit * 3 / 4)
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    private static func key(_ connection: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection))) }

    func opened(_ connection: OpaquePointer) {
        let fd = pingroll_mhd_connection_fd(connection)
        guard fd >= 0 else { return }
        table.withLock { $0[Self.key(connection)] = Entry(fd: fd, activity: .waitingForHead, since: Self.now()) }
    }

    func closed(_ connection: OpaquePointer) {
        _ = table.withLock { $0.removeValue(forKey: Self.key(connection)) }
    }

    /// The connection now does `activity` (its clock restarts); `bytes` is what the body has
    /// delivered so far.
    func set(_ connection: OpaquePointer, _ activity: Activity) {
        table.withLock { t in
            guard var e = t[Self.key(connection)] else { return }
            e.activity = activity
            e.since = Self.now()
            e.bytes = 0
            e.goneAt = nil
            t[Self.key(connection)] = e
        }
    }

    func bodyProgress(_ connection: OpaquePointer, total: Int) {
        table.withLock { t in t[Self.key(connection)]?.bytes = total }
    }

    var cuts: Counters { counters.withLock { $0 } }

    /// Runs the watchdog until `stop`; every `reportSeconds` it hands `report` what it cut meanwhile
    /// (possibly nothing).
    func start(reportSeconds: Double = 60, report: @escaping @Sendable (Counters) -> Void = { _ in }) {
        self.report.withLock { $0 = (UInt64(reportSeconds * 1e9), report) }
        let thread = WatchdogThread(self)
        thread.start()
    }

    private let report = Mutex<(every: UInt64, call: @Sendable (Counters) -> Void)>((60_000_000_000, { _ in }))

    func stop() {
        stopping.store(true, ordering: .releasing)
        while !finished.withLock({ $0 }) { usleep(5_000) }
    }

    fileprivate func watch() {
        var reported = Counters(), lastReport = Self.now()
        let (every, call) = report.withLock { $0 }
        while !stopping.load(ordering: .acquiring) {
            usleep(100_000)
            let now = Self.now()
            sweep(at: now)
            if now &- lastReport >= every {
                let current = cuts
                let delta = Counters(headTimeouts: current.headTimeouts - reported.headTimeouts, slowBodies: current.slowBodies - reported.slowBodies,
                                     abandoned: current.abandoned - reported.abandoned)
                call(delta)
                reported = current
                lastReport = now
            }
        }
        finished.withLock { $0 = true }
    }

    /// What a socket says about its client, from one non-blocking peek.
    enum Peer { case unreadBytes, quiet, left }

    /// `.unreadBytes`: the client sent bytes not read yet; `.left`: it closed its side with
    /// nothing unread (or the socket failed), so it can never finish a request (libmicrohttpd
    /// does not notice a client that leaves in the middle of a body); `.quiet` otherwise.
    static func peer(_ fd: Int32) -> Peer {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        if n > 0 { return .unreadBytes }
        if n == 0 { return .left }  // end of stream, nothing unread
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .quiet : .left  // reset or failed
    }

    /// At most this many connections are cut per sweep (ten sweeps a second): libmicrohttpd
    /// 0.9.75 takes 128 socket events per wake of a daemon and can miss some of a larger burst
    /// of closing sockets, leaving them open until its idle timeout.
    static let maxCutsPerSweep = 100

    /// Cuts every connection past its deadline at `now`, and those whose client left (seen on
    /// two sweeps in a row with no progress, so a request just completing is never cut).
    func sweep(at now: UInt64) {
        var heads = 0, bodies = 0, abandoned = 0
        table.withLock { t in
            let grace = t.count >= pressureConnections ? min(headTimeoutNanos, pressureTimeoutNanos) : headTimeoutNanos
            for (key, e) in t where !e.cut {
                if heads + bodies + abandoned >= Self.maxCutsPerSweep { break }
                // A connection waiting for pingroll itself (a commit) is never cut.
                guard e.activity != .busy else { continue }
                let peer = Self.peer(e.fd)
                if peer == .left {
                    if e.goneAt == e.bytes {
                        Glibc.shutdown(e.fd, Int32(SHUT_RDWR))
                        t[key]?.cut = true
                        abandoned += 1
                        continue
                    }
                    t[key]?.goneAt = e.bytes
                } else if e.goneAt != nil {
                    t[key]?.goneAt = nil
                }
                // Bytes the client sent that pingroll has not read yet mean the slowness is
                // pingroll's (an overloaded machine), not the client's: no cut.
                guard peer != .unreadBytes else { continue }
                let elapsed = now &- e.since
                if e.activity == .waitingForHead, elapsed > grace {
                    heads += 1
                } else if e.activity == .readingBody, elapsed > grace,
                          // After the grace period the average rate must reach the minimum.
                          Double(e.bytes) < Double(minBodyBytesPerSecond) * Double(elapsed) / 1e9 {
                    bodies += 1
                } else {
                    continue
                }
                Glibc.shutdown(e.fd, Int32(SHUT_RDWR))
                t[key]?.cut = true
            }
        }
        if heads + bodies + abandoned > 0 {
            counters.withLock { $0.headTimeouts += heads; $0.slowBodies += bodies; $0.abandoned += abandoned }
        }
    }
}

/// The watchdog's own thread (Foundation's `Thread` is not needed for one loop).
private final class WatchdogThread: Sendable {
    let guardian: ConnectionGuard
    init(_ guardian: ConnectionGuard) { self.guardian = guardian }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<WatchdogThread>.fromOpaque(raw!).takeRetainedValue()
            me.guardian.watch()
            return nil
        }, box)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<WatchdogThread>.fromOpaque(box).release() }
    }
}
