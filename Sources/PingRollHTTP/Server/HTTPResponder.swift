/// What the server should do with a request once its head is read.
public enum HeadDecision: Sendable {
    /// Read the body, refusing it once it exceeds this many bytes.
    case readBody(maxBytes: Int)
    /// Answer at once without reading any body.
    case respond(HTTPResponse)
}

/// Turns requests into responses, independent of any socket.
///
/// Implementations must be safe to call from several server threads at once. `respond` may call
/// `completion` before it returns or later from another thread, exactly once.
public protocol HTTPResponder: Sendable {
    /// Decides from the head alone whether and how much body to read.
    func head(_ head: HTTPRequestHead) -> HeadDecision

    /// Answers a request whose body went over the limit `head` allowed; `firstBytes` holds what
    /// was received before the limit (possibly nothing). Must answer without blocking.
    func bodyTooLarge(_ head: HTTPRequestHead, firstBytes: [UInt8]) -> HTTPResponse

    /// Answers a complete request.
    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void)

    /// Told of a request head the server answered itself with `error` (a framing error found
    /// before any route was chosen); must not block.
    func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?)
}

extension HTTPResponder {
    public func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?) {}
}
