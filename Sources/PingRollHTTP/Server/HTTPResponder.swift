/// What the server should do with a request once its head is read.
public enum HeadDecision: Sendable {
    /// Read the body, refusing it once it exceeds this many bytes. `attachment` is what the
    /// responder decided from the head (its route, the caller's token); the server hands it back
    /// with the request or to `bodyTooLarge`, so nothing is decided twice.
    case readBody(maxBytes: Int, attachment: (any Sendable)? = nil)
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
    /// was received before the limit (possibly nothing), `attachment` what `head` attached.
    /// Must answer without blocking.
    func bodyTooLarge(_ head: HTTPRequestHead, firstBytes: [UInt8], attachment: (any Sendable)?) -> HTTPResponse

    /// Answers a complete request (`request.attachment` is what `head` attached).
    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void)

    /// Told of a request head the server answered itself with `error` (a framing error found
    /// before any route was chosen); must not block.
    func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?)


    /// Told of every answer as it is queued; must not block.
    func completed(_ exchange: HTTPExchange)
}

extension HTTPResponder {
    public func headRejected(_ error: HTTPError, target: String, rawHead: [UInt8], remoteAddress: String?) {}
    public func completed(_ exchange: HTTPExchange) {}
}
