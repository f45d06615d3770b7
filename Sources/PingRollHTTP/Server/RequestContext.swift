import CMicroHTTPD
import Synchronization

/// The state of one request while libmicrohttpd calls back for it.
///
/// The head and body are touched only by the server thread that owns the connection (libmicrohttpd
/// processes one connection on one thread at a time); the reply is handed over under a lock
/// because the responder may deliver it from any thread.
final class RequestContext: @unchecked Sendable {
    enum Phase {
        case readingBody
        /// The answer is decided (413, 503) but the client is still sending: the rest of the
        /// body is read and dropped, then the answer is sent. Answering in the middle of a
        /// chunked upload makes libmicrohttpd close the connection without any answer.
        case discarding(HTTPResponse)
        case awaitingReply
        case replied
    }
    enum Reply { case pending, suspended, ready(HTTPResponse), sent }

    /// The most a discarded body may still send before the connection is simply closed.
    static let maxDiscardBytes = 64 << 20

    let head: HTTPRequestHead
    // The connection handle stays valid until the request-completed callback, which releases us.
    let connection: OpaquePointer
    unowned let server: ServerContext
    var maxBodyBytes = 0
    /// What the responder attached to the request at its head.
    var attachment: (any Sendable)?
    var body: [UInt8] = []
    /// Bytes of the server's body budget this request holds (the body's capacity).
    var reservedBytes = 0
    var received = 0
    var phase = Phase.readingBody
    let reply = Mutex(Reply.pending)
    let startedAt = ContinuousClock.now

    init(head: HTTPRequestHead, connection: OpaquePointer, server: ServerContext) {
        self.head = head
        self.connection = connection
        self.server = server
    }

    /// Makes room for `count` body bytes within the server's budget; false when it is spent.
    func reserveCapacity(_ count: Int) -> Bool {
        guard count > reservedBytes else { return true }
        let target = min(maxBodyBytes, max(count, body.capacity * 2, 16 * 1024))
        let extra = target - reservedBytes
        if extra > 0 {
            guard server.reserveBody(extra) else { return false }
            reservedBytes = target
        }
        body.reserveCapacity(target)
        return true
    }

    /// Gives the body's budget back (when the request is complete or its body dropped).
    func releaseBody() {
        server.releaseBody(reservedBytes)
        reservedBytes = 0
    }

    /// Called by the responder's completion, from any thread. The first answer wins.
    func deliver(_ response: HTTPResponse) {
        reply.withLock { state in
            switch state {
            case .pending:
                state = .ready(response)
            case .suspended:
                state = .ready(response)
                MHD_resume_connection(connection)
            case .ready, .sent:
                return
            }
        }
    }

    /// On the connection's thread: queues the reply when it is ready, otherwise suspends the
    /// connection until `deliver` resumes it.
    func queueOrSuspend() -> MHD_Result {
        reply.withLock { state in
            switch state {
            case .ready(let response):
                state = .sent
                server.replied(self)
                return MHDCallbacks.queue(response, for: self)
            case .pending:
                state = .suspended
                MHD_suspend_connection(connection)
                return .YES
            case .suspended, .sent:
                return .YES
            }
        }
    }
}
