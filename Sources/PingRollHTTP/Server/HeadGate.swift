import CMicroHTTPD
import Glibc
import Synchronization

/// Accepts connections itself and hands each to libmicrohttpd (`MHD_add_connection`) only once
/// its first request head has arrived whole and passed `HeadCheck`.
///
/// libmicrohttpd answers some framing errors on its own, with HTML or with its headers sent
/// twice; the gate answers those with pingroll's JSON error instead. It reads with `MSG_PEEK`,
/// so libmicrohttpd still reads the head itself, and peeks a connection at most every
/// `rearmNanos` however fast its client trickles. A head must arrive within the head timeout (one
/// second once three quarters of the gate's slots are taken); a client that leaves is dropped.
///
/// Later requests on a kept-alive connection are read by libmicrohttpd alone; `MHDCallbacks`
/// checks what it can of those.
final class HeadGate: @unchecked Sendable {
    // Everything but `stopping`, `wakeFD` and the counters is touched by the gate's thread only.
    private struct Pending {
        var address: sockaddr_storage
        var addressLength: socklen_t
        var client: String
        var since: UInt64
        var scanned = 0
        var lastPeek: UInt64 = 0
        var armed = true
        /// Answered; draining what the client still sends, so closing does not reset the answer.
        var closingSince: UInt64?
        var drained = 0
        /// Whether it holds one of its address's slots. A connection over the per-address limit
        /// waits (up to `slotWaitNanos`) for one: libmicrohttpd reports closed connections a
        /// little late, so a client that reconnects at once would otherwise be refused.
        var hasSlot = true
    }

    struct Counters: Sendable, Equatable {
        var answered = 0
        var headTimeouts = 0
        var refused = 0
    }

    let listenFD: Int32
    private let epollFD: Int32
    private let wakeFD: Int32
    private let maxHeadBytes: Int
    private let maxPending: Int
    private let headTimeoutNanos: UInt64
    private let rearmNanos: UInt64 = 20_000_000
    private let lingerNanos: UInt64 = 2_000_000_000
    private let slotWaitNanos: UInt64 = 1_000_000_000
    /// Connections waiting for a slot, per address (at most the per-address limit each).
    private var waitingForSlot: [String: Int] = [:]
    private let handOver: (Int32, UnsafePointer<sockaddr>, socklen_t, String) -> Void
    private let addresses: AddressSlots
    private let rejected: (HeadCheck.Rejection, [UInt8], String?) -> Void
    private var pending: [Int32: Pending] = [:]
    private var listening = true
    private var buffer: UnsafeMutableRawBufferPointer
    private let stopping = Atomic<Bool>(false)
    private let finished = Mutex(false)
    private let counters = Mutex(Counters())

    /// - Parameters:
    ///   - handOver: gives a connection whose head is complete to libmicrohttpd (which then owns it).
    ///   - rejected: told of every head the gate answered itself (for the quarantine).
    /// HTTPS: the head is encrypted, so a connection is handed over once its first bytes arrive.
    private let passthrough: Bool

    init(listenFD: Int32, limits: ServerLimits, addresses: AddressSlots, passthrough: Bool = false,
         handOver: @escaping (Int32, UnsafePointer<sockaddr>, socklen_t, String) -> Void,
         rejected: @escaping (HeadCheck.Rejection, [UInt8], String?) -> Void) throws(ServerStartError) {
        self.listenFD = listenFD
        self.passthrough = passthrough
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard epollFD >= 0, wakeFD >= 0 else { throw ServerStartError(description: "cannot create the accept loop (epoll): errno \(errno)") }
        maxHeadBytes = max(4096, limits.connectionMemoryLimit)
        maxPending = max(16, limits.connectionLimit)
        headTimeoutNanos = UInt64(max(0.05, limits.headTimeoutSeconds) * 1e9)
        self.handOver = handOver
        self.addresses = addresses
        self.rejected = rejected
        buffer = .allocate(byteCount: maxHeadBytes, alignment: 16)
        watch(listenFD, oneShot: false, add: true)
        watch(wakeFD, oneShot: false, add: true)
    }

    deinit { buffer.deallocate() }

    var counts: Counters { counters.withLock { $0 } }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let gate = Unmanaged<HeadGate>.fromOpaque(raw!).takeRetainedValue()
            gate.run()
            return nil
        }, box)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<HeadGate>.fromOpaque(box).release() }
    }

    /// Stops accepting, closes the listening socket and every connection not yet handed over.
    func stop() {
        stopping.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        while !finished.withLock({ $0 }) { usleep(2_000) }
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !stopping.load(ordering: .acquiring) {
            let n = epoll_wait(epollFD, &events, Int32(events.count), 20)
            let now = ConnectionGuard.now()
            for e in events.prefix(max(0, Int(n))) {
                let fd = e.data.fd
                if fd == listenFD {
                    acceptAll(now)
                } else if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                } else {
                    pending[fd]?.armed = false
                    examine(fd, now)
                }
            }
            sweep(now)
        }
        for (fd, p) in pending {
            close(fd)
            if p.hasSlot { addresses.release(p.client) }
        }
        pending.removeAll()
        close(listenFD)
        close(epollFD)
        close(wakeFD)
        finished.withLock { $0 = true }
    }

    private func watch(_ fd: Int32, oneShot: Bool, add: Bool) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (oneShot ? EPOLLONESHOT.rawValue | EPOLLRDHUP.rawValue : 0)
        event.data.fd = fd
        _ = epoll_ctl(epollFD, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event)
    }

    private func acceptAll(_ now: UInt64) {
        while pending.count < maxPending {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                // Blocking is fine: the gate only uses MSG_DONTWAIT, and libmicrohttpd makes the
                // socket non-blocking when it is added.
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
            guard fd >= 0 else { break }  // EAGAIN: accepted everything waiting
            let client = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddressText($0) }
            } ?? "?"
            var entry = Pending(address: address, addressLength: length, client: client, since: now)
            if !addresses.take(client) {
                guard waitingForSlot[client, default: 0] < addresses.perAddress else {
                    close(fd)
                    counters.withLock { $0.refused += 1 }
                    continue
                }
                waitingForSlot[client, default: 0] += 1
                entry.hasSlot = false
            }
            pending[fd] = entry
            watch(fd, oneShot: true, add: true)
        }
        // Full: stop watching the listener (the backlog holds the rest) until a slot frees.
        if pending.count >= maxPending && listening {
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
            listening = false
        }
    }

    private func examine(_ fd: Int32, _ now: UInt64) {
        guard var p = pending[fd] else { return }
        if p.closingSince != nil {
            // Read and drop what the client still sends, until it closes or enough was read.
            while true {
                let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
                if n > 0 { p.drained += n; if p.drained < 1 << 20 { continue } }
                if n == 0 || (n < 0 && errno != EAGAIN) || p.drained >= 1 << 20 { return drop(fd) }
                break
            }
            pending[fd] = p
            return
        }
        let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return drop(fd) }
        p.lastPeek = now
        pending[fd] = p
        guard n > 0 else { return }
        if passthrough { return admit(fd) }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        if let end = HeadCheck.headEnd(in: bytes, from: p.scanned) {
            let head = Array(bytes[0..<end])
            if let rejection = HeadCheck.check(head[...]) { answer(fd, rejection, head: head) } else { admit(fd) }
        } else if n >= maxHeadBytes {
            let error = HTTPError(431, "request_header_too_large", "the request head is larger than \(maxHeadBytes) bytes")
            answer(fd, HeadCheck.Rejection(error: error, target: "-"), head: Array(bytes.prefix(4096)))
        } else {
            pending[fd]?.scanned = n
        }
    }

    private func admit(_ fd: Int32) {
        // Without a slot yet it stays here; the sweep hands it over once it gets one.
        guard pending[fd]?.hasSlot == true, var p = forget(fd) else { return }
        let client = p.client
        withUnsafePointer(to: &p.address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { handOver(fd, $0, p.addressLength, client) }
        }
    }

    /// Sends pingroll's JSON error, half-closes, and keeps draining the socket for a while.
    private func answer(_ fd: Int32, _ rejection: HeadCheck.Rejection, head: [UInt8], quarantine: Bool = true) {
        let response = rejection.error.response
        let phrase = String(cString: MHD_get_reason_phrase_for(UInt32(rejection.error.status)))
        var text = "HTTP/1.1 \(rejection.error.status) \(phrase)\r\nConnection: close\r\n"
        for (name, value) in response.headers + SecurityHeaders.extra(for: response.headers) { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(response.body.count)\r\n\r\n"
        let bytes = Array(text.utf8) + response.body
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        pending[fd]?.closingSince = ConnectionGuard.now()
        guard quarantine else { return }
        counters.withLock { $0.answered += 1 }
        rejected(rejection, head, pending[fd]?.client)
    }

    private func drop(_ fd: Int32) {
        guard let p = forget(fd) else { return }
        close(fd)
        if p.hasSlot { addresses.release(p.client) }
    }

    /// Removes `fd` from the gate (not closing it).
    private func forget(_ fd: Int32) -> Pending? {
        guard let p = pending.removeValue(forKey: fd) else { return nil }
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        if !p.hasSlot { releaseWait(p.client) }
        if !listening && pending.count < maxPending && !stopping.load(ordering: .relaxed) {
            watch(listenFD, oneShot: false, add: true)
            listening = true
        }
        return p
    }

    /// Deadlines, and re-arming connections whose last peek is old enough.
    private func sweep(_ now: UInt64) {
        let deadline = pending.count * 4 >= maxPending * 3 ? min(headTimeoutNanos, 1_000_000_000) : headTimeoutNanos
        for (fd, p) in pending {
            if !p.hasSlot && p.closingSince == nil {
                if addresses.take(p.client) {
                    pending[fd]?.hasSlot = true
                    releaseWait(p.client)
                    if !p.armed { rearm(fd) }  // look at its head again, and hand it over if complete
                } else if now &- p.since > slotWaitNanos {
                    counters.withLock { $0.refused += 1 }
                    drop(fd)
                }
                continue
            }
            if let closing = p.closingSince {
                if now &- closing > lingerNanos { drop(fd) } else if !p.armed { rearm(fd) }
            } else if now &- p.since > deadline {
                // A last look first: on a starved machine the head may be complete and unseen.
                examine(fd, now)
                guard let still = pending[fd], still.closingSince == nil else { continue }
                counters.withLock { $0.headTimeouts += 1 }
                if deadline < headTimeoutNanos || passthrough {
                    // Under pressure the slot matters more than the courtesy; a TLS client
                    // cannot read a plain answer anyway.
                    drop(fd)
                } else {
                    let error = HTTPError(408, "request_timeout", "the request head did not arrive within \(headTimeoutNanos / 1_000_000_000) s")
                    answer(fd, HeadCheck.Rejection(error: error, target: "-"), head: [], quarantine: false)
                }
            } else if !p.armed && now &- p.lastPeek >= rearmNanos {
                rearm(fd)
            }
        }
    }

    private func releaseWait(_ client: String) {
        if let n = waitingForSlot[client], n > 1 { waitingForSlot[client] = n - 1 } else { waitingForSlot[client] = nil }
    }

    private func rearm(_ fd: Int32) {
        pending[fd]?.armed = true
        watch(fd, oneShot: true, add: false)
    }
}
