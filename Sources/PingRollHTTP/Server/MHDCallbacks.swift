import CMicroHTTPD
import Glibc

/// The C callbacks libmicrohttpd calls on its own threads. They are static and non-isolated,
/// reach Swift state through `Unmanaged` context pointers, and never let a Swift error escape.
enum MHDCallbacks {
    static let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, version, uploadData, uploadDataSize, conCls in
        guard let cls, let connection, let conCls else { return .NO }
        let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()

        var targetProblem: HTTPError?
        if let existing = conCls.pointee, let rejected = Unmanaged<AnyObject>.fromOpaque(existing).takeUnretainedValue() as? RejectedTarget {
            // The URI log callback found the target invalid before libmicrohttpd decoded it.
            targetProblem = rejected.error
            Unmanaged<RejectedTarget>.fromOpaque(existing).release()
            conCls.pointee = nil
        }
        guard let existing = conCls.pointee else {
            // First call: only the head is known.
            let head = readHead(connection: connection, url: url, method: method)
            let context = RequestContext(head: head, connection: connection, server: server)
            conCls.pointee = Unmanaged.passRetained(context).toOpaque()
            server.activeRequests.add(1, ordering: .relaxed)
            server.connections.set(connection, .busy)
            if server.draining.load(ordering: .acquiring) {
                context.phase = .replied
                return queue(shuttingDown, for: context)
            }
            if let problem = targetProblem ?? protocolProblem(head, version: version.map { String(cString: $0) } ?? "") {
                context.phase = .replied
                return queue(problem.response, for: context)
            }
            switch server.responder.head(head) {
            case .readBody(let maxBytes, let attachment):
                context.maxBodyBytes = maxBytes
                context.attachment = attachment
                if let declared = head.contentLength {
                    if declared > maxBytes {
                        context.phase = .replied
                        return queue(server.responder.bodyTooLarge(head, firstBytes: [], attachment: attachment), for: context)
                    }
                    if !context.reserveCapacity(declared) {
                        context.phase = .replied
                        return queue(overBudget, for: context)
                    }
                }
                server.connections.set(connection, .readingBody)
                // Answering now would make libmicrohttpd close the connection; answer on a later call.
                return .YES
            case .respond(let response):
                context.phase = .replied
                return queue(response, for: context)
            }
        }
        let context = Unmanaged<RequestContext>.fromOpaque(existing).takeUnretainedValue()

        if let uploadDataSize, uploadDataSize.pointee > 0 {
            let size = uploadDataSize.pointee
            uploadDataSize.pointee = 0
            context.received = context.received.addingReportingOverflow(size).partialValue
            server.connections.bodyProgress(connection, total: context.received)
            switch context.phase {
            case .readingBody:
                let chunk = UnsafeRawBufferPointer(start: uploadData, count: size)
                if context.body.count + size > context.maxBodyBytes {
                    let room = max(0, context.maxBodyBytes - context.body.count)
                    context.body.append(contentsOf: chunk.prefix(room))
                    let response = server.responder.bodyTooLarge(context.head, firstBytes: context.body, attachment: context.attachment)
                    context.body = []
                    context.releaseBody()
                    context.phase = .discarding(response)
                    return .YES
                }
                guard context.reserveCapacity(context.body.count + size) else {
                    context.body = []
                    context.releaseBody()
                    context.phase = .discarding(overBudget)
                    return .YES
                }
                context.body.append(contentsOf: chunk)
                return .YES
            case .discarding:
                // A client that keeps sending far past the limit is not read forever.
                return context.received > context.maxBodyBytes + RequestContext.maxDiscardBytes ? .NO : .YES
            case .awaitingReply, .replied:
                return .YES
            }
        }

        switch context.phase {
        case .readingBody:
            server.connections.set(connection, .busy)
            if server.refusing.load(ordering: .acquiring) {
                context.phase = .replied
                return queue(shuttingDown, for: context)
            }
            context.phase = .awaitingReply
            var request = HTTPRequest(head: context.head, body: context.body)
            request.attachment = context.attachment
            context.body = []
            server.awaitReply(context)
            server.responder.respond(to: request) { response in context.deliver(response) }
            return context.queueOrSuspend()
        case .discarding(let response):
            server.connections.set(connection, .busy)
            context.phase = .replied
            return queue(response, for: context)
        case .awaitingReply:
            return context.queueOrSuspend()
        case .replied:
            return .YES
        }
    }

    /// Called with the request target as sent, before libmicrohttpd decodes it in place: an
    /// invalid one (`RequestTarget`) is remembered for the access handler, which answers 400.
    /// What this returns becomes the request's `*con_cls`; nil for a valid target.
    static let targetReceived: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) -> UnsafeMutableRawPointer? = { _, uri, _ in
        guard let uri else { return nil }
        let raw = UnsafeRawBufferPointer(start: uri, count: strlen(uri))
        guard let error = RequestTarget.problem(raw) else { return nil }
        return Unmanaged.passRetained(RejectedTarget(error)).toOpaque()
    }

    /// A target the URI log callback refused, waiting for the access handler.
    final class RejectedTarget {
        let error: HTTPError
        init(_ error: HTTPError) { self.error = error }
    }

    static let requestCompleted: MHD_RequestCompletedCallback = { cls, connection, conCls, _ in
        guard let conCls, let pointer = conCls.pointee else { return }
        if Unmanaged<AnyObject>.fromOpaque(pointer).takeUnretainedValue() is RejectedTarget {
            // The request ended before the access handler saw it.
            Unmanaged<RejectedTarget>.fromOpaque(pointer).release()
            conCls.pointee = nil
            return
        }
        let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeRetainedValue()
        conCls.pointee = nil
        context.releaseBody()
        guard let cls else { return }
        let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
        server.replied(context)
        // The next request on a kept-alive connection has a new head deadline.
        if let connection { server.connections.set(connection, .waitingForHead) }
        server.activeRequests.subtract(1, ordering: .releasing)
    }

    static let connectionChanged: MHD_NotifyConnectionCallback = { cls, connection, _, code in
        guard let cls, let connection else { return }
        let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
        if code.rawValue == 0 {  // MHD_CONNECTION_NOTIFY_STARTED; 1 is CLOSED
            server.connections.opened(connection)
        } else {
            server.connections.closed(connection)
            // The slot the gate took for this client address when it accepted the connection.
            server.addresses.release(clientAddress(connection) ?? "?")
        }
    }

    static let shuttingDown = HTTPError(503, "shutting_down", "pingroll is stopping; retry later", headers: [("Retry-After", "5")]).response
    static let overBudget = HTTPError(503, "overloaded", "too many request bodies are being received at once; retry later",
                                      headers: [("Retry-After", "5")]).response

    /// Framing defects libmicrohttpd lets through: answered 400 (413 for an impossible length)
    /// before any body is read.
    static func protocolProblem(_ head: HTTPRequestHead, version: String) -> HTTPError? {
        let lengths = head.headers.values(of: "Content-Length")
        if let problem = ContentLength.problem(lengths) { return problem }
        if !lengths.isEmpty && head.isChunked {
            return HTTPError(400, "bad_request", "the request has both Content-Length and Transfer-Encoding: chunked")
        }
        if version == "HTTP/1.1" && head.headers["Host"] == nil {
            return HTTPError(400, "bad_request", "an HTTP/1.1 request must have a Host header")
        }
        return nil
    }

    /// Queues `response`; while the server drains, it closes the connection after sending.
    static func queue(_ response: HTTPResponse, for context: RequestContext) -> MHD_Result {
        let connection = context.connection, server = context.server
        server.responder.completed(HTTPExchange(method: context.head.method, route: response.route, status: response.status,
                                                bytes: response.stream == nil ? response.body.count : nil,
                                                duration: ContinuousClock.now - context.startedAt, remoteAddress: context.head.remoteAddress))
        let mhdResponse: OpaquePointer?
        if let stream = response.stream {
            let state = Unmanaged.passRetained(StreamState(stream)).toOpaque()
            mhdResponse = MHD_create_response_from_callback(UInt64.max, 64 * 1024, readStream, state, freeStream)
            if mhdResponse == nil { Unmanaged<StreamState>.fromOpaque(state).release() }
        } else {
            mhdResponse = response.body.withUnsafeBytes { bytes in
                MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
            }
        }
        guard let mhdResponse else { return .NO }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers + SecurityHeaders.extra(for: response.headers) {
            _ = MHD_add_response_header(mhdResponse, name, value)
        }
        if server.draining.load(ordering: .relaxed) { _ = MHD_add_response_header(mhdResponse, "Connection", "close") }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    /// A streamed body being sent: the producer and what is left of its last piece.
    final class StreamState {
        let next: @Sendable () -> [UInt8]?
        var pending: [UInt8] = []
        var offset = 0
        init(_ next: @escaping @Sendable () -> [UInt8]?) { self.next = next }
    }

    static let readStream: MHD_ContentReaderCallback = { cls, _, buffer, max in
        guard let cls, let buffer else { return -2 }
        let state = Unmanaged<StreamState>.fromOpaque(cls).takeUnretainedValue()
        while state.offset >= state.pending.count {
            guard let piece = state.next() else { return -1 }  // MHD_CONTENT_READER_END_OF_STREAM
            state.pending = piece
            state.offset = 0
        }
        let count = min(max, state.pending.count - state.offset)
        state.pending.withUnsafeBytes { src in
            UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + state.offset, byteCount: count)
        }
        state.offset += count
        return count
    }

    static let freeStream: MHD_ContentReaderFreeCallback = { cls in
        guard let cls else { return }
        Unmanaged<StreamState>.fromOpaque(cls).release()
    }

    private static func readHead(connection: OpaquePointer, url: UnsafePointer<CChar>?, method: UnsafePointer<CChar>?) -> HTTPRequestHead {
        let collector = Collector()
        let unmanaged = Unmanaged.passRetained(collector)
        defer { unmanaged.release() }
        _ = MHD_get_connection_values(connection, .HEADER_KIND, collectHeader, unmanaged.toOpaque())
        _ = MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, collectArgument, unmanaged.toOpaque())
        return HTTPRequestHead(method: method.map { String(cString: $0) } ?? "GET",
                               path: url.map { String(cString: $0) } ?? "/",
                               query: collector.arguments, headers: collector.headers,
                               remoteAddress: clientAddress(connection))
    }

    private final class Collector {
        var headers = HTTPHeaders()
        var arguments: [(String, String)] = []
    }

    private static let collectHeader: MHD_KeyValueIterator = { cls, _, key, value in
        guard let cls, let key else { return .YES }
        let collector = Unmanaged<Collector>.fromOpaque(cls).takeUnretainedValue()
        collector.headers.append(String(cString: key), value.map { String(cString: $0) } ?? "")
        return .YES
    }

    private static let collectArgument: MHD_KeyValueIterator = { cls, _, key, value in
        guard let cls, let key else { return .YES }
        let collector = Unmanaged<Collector>.fromOpaque(cls).takeUnretainedValue()
        collector.arguments.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
        return .YES
    }

    static func clientAddress(_ connection: OpaquePointer) -> String? {
        pingroll_mhd_client_address(connection).flatMap(socketAddressText)
    }
}

/// The IP address of a socket address as text (`127.0.0.1`, `::1`), or nil for other families.
/// The head gate and the connection-closed callback both key address slots by it.
func socketAddressText(_ address: UnsafePointer<sockaddr>) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    switch Int32(address.pointee.sa_family) {
    case AF_INET:
        var addr = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        guard inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
    case AF_INET6:
        var addr = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
        guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
    default:
        return nil
    }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
