import CCurl
import Foundation
import Synchronization

/// One HTTP GET whose every cost is bounded, for what pingroll fetches from hosts it does not
/// control (a GitLab instance's Service Ping API).
///
/// libcurl directly, not URLSession: Foundation's client asks for every compression and
/// inflates before its delegate sees a byte, and keeps what it already handed over after a
/// cancel. Here the request says `Accept-Encoding: identity`, libcurl never decodes, and the
/// body stops being read the moment it would pass `maxBytes`. A server that compresses anyway
/// (gzip or deflate) is inflated here, piece by piece as it arrives, under the same cap; any
/// other encoding is refused. Redirects are not followed; only http and https are spoken.
public enum BoundedFetch {
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    public enum Failure: Error, Equatable, Sendable {
        /// The body (after inflating, if the server compressed it) would pass the cap.
        case tooLarge
        case timedOut
        /// `Cancellation.cancel()` was called.
        case cancelled
        /// A Content-Encoding that was not asked for and is not gzip or deflate, or a
        /// compressed body that is damaged or cut short.
        case badEncoding(String)
        /// Connection, TLS or protocol errors, in libcurl's words (which never include headers).
        case unreachable(String)
    }

    /// Lets another thread stop a fetch in progress (within about a second).
    public final class Cancellation: Sendable {
        private let flag = Atomic<Bool>(false)
        public init() {}
        public func cancel() { flag.store(true, ordering: .releasing) }
        public var isCancelled: Bool { flag.load(ordering: .acquiring) }
    }

    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// GETs `url` with `headers`; the whole exchange takes at most `timeoutSeconds`.
    public static func get(_ url: String, headers: [(String, String)], maxBytes: Int, timeoutSeconds: Double,
                           cancellation: Cancellation? = nil) throws(Failure) -> Answer {
        try perform(url, headers: headers, post: nil, maxBytes: maxBytes, truncate: false, timeoutSeconds: timeoutSeconds, cancellation: cancellation)
    }

    /// POSTs `body` to `url` with `headers` (a webhook): the answer's status, and at most
    /// `maxAnswerBytes` of its body (the rest is not read: the transfer stops there).
    public static func post(_ url: String, body: [UInt8], headers: [(String, String)], maxAnswerBytes: Int, timeoutSeconds: Double,
                            cancellation: Cancellation? = nil) throws(Failure) -> Answer {
        try perform(url, headers: headers, post: body, maxBytes: maxAnswerBytes, truncate: true, timeoutSeconds: timeoutSeconds, cancellation: cancellation)
    }

    private static func perform(_ url: String, headers: [(String, String)], post: [UInt8]?, maxBytes: Int, truncate: Bool, timeoutSeconds: Double,
                                cancellation: Cancellation?) throws(Failure) -> Answer {
        guard initialized, let handle = curl_easy_init() else { throw .unreachable("the HTTP client could not start") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers + [("Accept-Encoding", "identity")] {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        defer { curl_slist_free_all(list) }
        let transfer = Transfer(maxBytes: maxBytes, cancellation: cancellation, truncate: truncate)
        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }
        var errorText = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let millis = Int(max(1, min(timeoutSeconds, 86_400)) * 1000)
        let code: CURLcode = errorText.withUnsafeMutableBufferPointer { errorBuffer in
            _ = pingroll_curl_set_pointer(handle, CURLOPT_URL, url)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_PROTOCOLS_STR, "http,https")
            _ = pingroll_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
            _ = pingroll_curl_set_long(handle, CURLOPT_HTTP_CONTENT_DECODING, 0)
            _ = pingroll_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = pingroll_curl_set_long(handle, CURLOPT_TIMEOUT_MS, millis)
            _ = pingroll_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(millis, 15_000))
            // A declared length over the cap ends a fetch at once; an answer that is cut instead
            // (a webhook's) is read up to the cap whatever it declares.
            if !truncate { _ = pingroll_curl_set_offset(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maxBytes)) }
            _ = pingroll_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer.baseAddress)
            _ = pingroll_curl_set_data_callback(handle, CURLOPT_WRITEFUNCTION, Transfer.receiveBody)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
            _ = pingroll_curl_set_data_callback(handle, CURLOPT_HEADERFUNCTION, Transfer.receiveHeader)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque())
            _ = pingroll_curl_set_long(handle, CURLOPT_NOPROGRESS, 0)
            _ = pingroll_curl_set_progress_callback(handle, Transfer.progress)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_XFERINFODATA, context.toOpaque())
            if let post {
                _ = pingroll_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(post.count))
                _ = post.withUnsafeBytes { pingroll_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)) }
            }
            return curl_easy_perform(handle)
        }
        if transfer.truncated { return Answer(status: pingroll_curl_response_code(handle), body: transfer.body) }
        if let failure = transfer.failure { throw failure }
        switch code {
        case CURLE_OK: break
        case CURLE_OPERATION_TIMEDOUT: throw .timedOut
        case CURLE_ABORTED_BY_CALLBACK: throw .cancelled
        case CURLE_FILESIZE_EXCEEDED: throw .tooLarge
        default:
            throw .unreachable(curlError(code, errorText))
        }
        if let inflater = transfer.inflater, !inflater.isComplete { throw .badEncoding("the compressed body is cut short") }
        return Answer(status: pingroll_curl_response_code(handle), body: transfer.body)
    }

    /// libcurl's words for a failed transfer: its error buffer, or the code's text (never headers
    /// or credentials).
    static func curlError(_ code: CURLcode, _ buffer: [CChar]) -> String {
        let detail = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }

    /// What libcurl's callbacks fill in, on the thread that runs `curl_easy_perform`.
    private final class Transfer {
        let maxBytes: Int
        let cancellation: Cancellation?
        var body: [UInt8] = []
        var encoding: String?
        var inflater: GzipStream?
        var failure: Failure?
        /// Keep the first `maxBytes` of an answer and stop reading (instead of failing).
        let truncate: Bool
        var truncated = false

        init(maxBytes: Int, cancellation: Cancellation?, truncate: Bool) {
            self.maxBytes = maxBytes
            self.cancellation = cancellation
            self.truncate = truncate
        }

        /// Returning anything but `size * count` makes libcurl stop with CURLE_WRITE_ERROR.
        static let receiveBody: pingroll_curl_data_callback = { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            let (n, overflow) = size.multipliedReportingOverflow(by: count)
            guard !overflow else { return 0 }
            let bytes = UnsafeRawBufferPointer(start: data, count: n)
            switch transfer.encoding {
            case nil:
                guard transfer.body.count + n <= transfer.maxBytes else {
                    if transfer.truncate {
                        transfer.body.append(contentsOf: bytes.prefix(transfer.maxBytes - transfer.body.count))
                        transfer.truncated = true
                    } else {
                        transfer.failure = .tooLarge
                    }
                    return 0
                }
                if transfer.body.count + n > transfer.body.capacity {
                    transfer.body.reserveCapacity(min(max(transfer.body.count + n, transfer.body.capacity * 2), transfer.maxBytes))
                }
                transfer.body.append(contentsOf: bytes)
            case "gzip", "x-gzip", "deflate":
                do throws(GzipStream.Failure) {
                    if transfer.inflater == nil { transfer.inflater = try GzipStream() }
                    try transfer.inflater!.feed(bytes, into: &transfer.body, limit: transfer.maxBytes)
                } catch {
                    transfer.failure = error == .tooLarge ? .tooLarge : .badEncoding("the compressed body is damaged")
                    return 0
                }
            case let other?:
                transfer.failure = .badEncoding("the answer has Content-Encoding \(other.prefix(40)), which was not asked for")
                return 0
            }
            return n
        }

        /// One header line at a time; a new status line (after a 1xx) starts over.
        static let receiveHeader: pingroll_curl_data_callback = { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            let (n, overflow) = size.multipliedReportingOverflow(by: count)
            guard !overflow else { return 0 }
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: min(n, 8192)), as: UTF8.self)
            if line.hasPrefix("HTTP/") {
                transfer.encoding = nil
            } else if let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-encoding" {
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
                if !value.isEmpty && value != "identity" { transfer.encoding = value }
            }
            return n
        }

        /// Non-zero stops the transfer (CURLE_ABORTED_BY_CALLBACK).
        static let progress: pingroll_curl_progress_callback = { context, _, _, _, _ in
            guard let context else { return 0 }
            return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().cancellation?.isCancelled == true ? 1 : 0
        }
    }
}
