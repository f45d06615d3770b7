import CMicroHTTPD
import Glibc

/// The C callbacks libmicrohttpd calls on its own threads. They are static and non-isolated,
/// reach Swift state through `Unmanaged` context pointers, and never let a Swift error escape.
enum MHDCallbacks {
    static let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, conCls in
        guard let cls, let connection, let conCls else { return .NO }
        let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()

        guard let existing = conCls.pointee else {
            // First call: only the head is known.
            let head = readHead(connection: connection, url: url, method: method)
            let context = RequestContext(head: head, connection: connection)
            conCls.pointee = Unmanaged.passRetained(context).toOpaque()
            server.activeRequests.add(1, ordering: .relaxed)
            switch server.responder.head(head) {
            case .readBody(let maxBytes):
                if let declared = head.contentLength, declared > maxBytes {
                    context.phase = .replied
                    return queue(server.responder.bodyTooLarge(head, firstBytes: []), on: connection)
                }
                context.maxBodyBytes = maxBytes
                // Answering now would make libmicrohttpd close the connection; answer on a later call.
                return .YES
            case .respond(let response):
                context.phase = .replied
                return queue(response, on: connection)
            }
        }
        let context = Unmanaged<RequestContext>.fromOpaque(existing).takeUnretainedValue()

        if let uploadDataSize, uploadDataSize.pointee > 0 {
            let size = uploadDataSize.pointee
            uploadDataSize.pointee = 0
            guard context.phase == .readingBody else { return .YES }
            let chunk = UnsafeRawBufferPointer(start: uploadData, count: size)
            if context.body.count + size > context.maxBodyBytes {
                context.phase = .replied
                let room = max(0, context.maxBodyBytes - context.body.count)
                context.body.append(contentsOf: chunk.prefix(room))
                let response = server.responder.bodyTooLarge(context.head, firstBytes: context.body)
                context.body = []
                return queue(response, on: connection)
            }
            context.body.append(contentsOf: chunk)
            return .YES
        }

        switch context.phase {
        case .readingBody:
            context.phase = .awaitingReply
            let request = HTTPRequest(head: context.head, body: context.body)
            context.body = []
            server.responder.respond(to: request) { response in context.deliver(response) }
            return context.queueOrSuspend()
        case .awaitingReply:
            return context.queueOrSuspend()
        case .replied:
            return .YES
        }
    }

    static let requestCompleted: MHD_RequestCompletedCallback = { cls, _, conCls, _ in
        guard let conCls, let pointer = conCls.pointee else { return }
        Unmanaged<RequestContext>.fromOpaque(pointer).release()
        conCls.pointee = nil
        if let cls {
            Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().activeRequests.subtract(1, ordering: .releasing)
        }
    }

    static func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
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
        for (name, value) in response.headers { _ = MHD_add_response_header(mhdResponse, name, value) }
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

    private static func clientAddress(_ connection: OpaquePointer) -> String? {
        guard let sa = pingroll_mhd_client_address(connection) else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            var addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        case AF_INET6:
            var addr = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        default:
            return nil
        }
        return String(cString: buffer)
    }
}
