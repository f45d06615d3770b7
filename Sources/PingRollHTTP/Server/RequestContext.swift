import CMicroHTTPD
import Synchronization

/// The state of one request while libmicrohttpd calls back for it.
///
/// The head and body are touched only by the server thread that owns the connection (libmicrohttpd
/// processes one connection on one thread at a time); the reply is handed over under a lock
/// because the responder may deliver it from any thread.
final class RequestContext: @unchecked Sendable {
    enum Phase { case readingBody, awaitingReply, replied }
    enum Reply { case pending, suspended, ready(HTTPResponse), sent }

    let head: HTTPRequestHead
    // The connection handle stays valid until the request-completed callback, which releases us.
    let connection: OpaquePointer
    var maxBodyBytes = 0
    var body: [UInt8] = []
    var phase = Phase.readingBody
    let reply = Mutex(Reply.pending)

    init(head: HTTPRequestHead, connection: OpaquePointer) {
        self.head = head
        self.connection = connection
    }

    /// Called by the responder's completion, from any thread.
    func deliver(_ response: HTTPResponse) {
        reply.withLock { state in
            let wasSuspended: Bool
            if case .suspended = state { wasSuspended = true } else { wasSuspended = false }
            state = .ready(response)
            if wasSuspended { MHD_resume_connection(connection) }
        }
    }

    /// On the connection's thread: queues the reply when it is ready, otherwise suspends the
    /// connection until `deliver` resumes it.
    func queueOrSuspend() -> MHD_Result {
        reply.withLock { state in
            switch state {
            case .ready(let response):
                state = .sent
                return MHDCallbacks.queue(response, on: connection)
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
