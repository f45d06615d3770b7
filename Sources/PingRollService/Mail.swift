import CCurl
import Foundation
import PingRollCore

/// Where and as whom digests are mailed (`--smtp-url`, `--smtp-from`, `--smtp-credentials`,
/// `--smtp-starttls require`).
public struct MailSettings: Sendable {
    /// `smtp://HOST:PORT` (STARTTLS when offered, or always with `requireTLS`) or `smtps://HOST:PORT`.
    public var url: String
    public var from: String
    public var username: String?
    public var password: String?
    public var requireTLS: Bool
    public var timeoutSeconds: Double
    /// PEM certificates to trust for the server's TLS instead of the system's.
    public var caFile: String?

    public init(url: String, from: String, username: String? = nil, password: String? = nil, requireTLS: Bool = false, timeoutSeconds: Double = 30,
                caFile: String? = nil) {
        self.caFile = caFile
        self.url = url
        self.from = from
        self.username = username
        self.password = password
        self.requireTLS = requireTLS
        self.timeoutSeconds = timeoutSeconds
    }
}

/// A digest as an e-mail: multipart/alternative, plain text and HTML (numbers, no remote
/// images, no script). The headers pingroll sets itself come from validated values only.
public enum MailMessage {
    public static func digest(_ d: DigestBody, from: String, to: String) -> [UInt8] {
        let (text, html) = parts(d)
        let boundary = "pingroll-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        var m = "From: \(from)\r\nTo: \(to)\r\nSubject: pingroll digest, week of \(d.period)\r\nMIME-Version: 1.0\r\n"
        m += "Content-Type: multipart/alternative; boundary=\"\(boundary)\"\r\n\r\n"
        m += "--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\(crlf(text))\r\n"
        m += "--\(boundary)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\(crlf(html))\r\n--\(boundary)--\r\n"
        return Array(m.utf8)
    }

    /// The digest's plain-text and HTML parts.
    public static func parts(_ d: DigestBody) -> (text: String, html: String) {
        var text = "pingroll weekly digest, week of \(d.period) against \(d.previousPeriod)\(d.complete ? "" : " (partial)")\n\n"
        var html = "<html><body style=\"font-family: sans-serif; max-width: 60em\"><h1>pingroll digest, week of \(escape(d.period))</h1>"
        html += "<p>Against the week of \(escape(d.previousPeriod))\(d.complete ? "" : " (this week is still filling up)").</p><h2>Adoption</h2>"
        html += "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse: collapse\">"
        html += "<tr><th>Metric</th><th>Share</th><th>95 %</th><th>Change</th><th>Reporting</th><th>Adopters</th><th>Regressions</th></tr>"
        for h in d.headlines {
            let share = h.share.map { String(format: "%.1f %%", $0 * 100) } ?? "–"
            let band = h.ciLow.flatMap { l in h.ciHigh.map { String(format: "%.1f–%.1f %%", l * 100, $0 * 100) } } ?? "–"
            let change = h.changePoints.map { String(format: "%+.1f points%@", $0, h.significant ? " (significant)" : "") } ?? "–"
            text += "\(h.title): \(share) (95 %: \(band)), \(change); \(h.reporting) reporting (\(h.previousReporting) the week before); \(h.adopters) adopted, \(h.regressions) switched off\n"
            for (label, list) in [("adopted", h.adopterInstallations), ("switched off", h.regressionInstallations)] {
                for i in list ?? [] { text += "  \(label): \(i.hostname) (\(i.version ?? "version unknown"))\n" }
            }
            html += "<tr><td>\(escape(h.title))</td><td>\(share)</td><td>\(band)</td><td>\(escape(change))</td><td>\(h.reporting)</td><td>\(h.adopters)</td><td>\(h.regressions)</td></tr>"
        }
        html += "</table>"
        for h in d.headlines {
            for (label, list) in [("Adopted", h.adopterInstallations), ("Switched off", h.regressionInstallations)] where !(list ?? []).isEmpty {
                html += "<p>\(label): " + (list ?? []).map { escape("\($0.hostname) (\($0.version ?? "version unknown"))") }.joined(separator: ", ") + "</p>"
            }
        }
        html += "<h2>Ingest</h2>"
        let c = d.completeness
        text += "\nCompleteness: \(c.reported) installations reported, \(c.expected) the week before.\n"
        text += "Ingest: \(d.ingest.accepted) pings accepted (\(d.ingest.previousAccepted) the week before), \(d.ingest.duplicates) duplicates, \(d.ingest.rejected) rejected.\n"
        html += "<p>Completeness: \(c.reported) installations reported, \(c.expected) the week before.</p>"
        html += "<p>Ingest: \(d.ingest.accepted) pings accepted (\(d.ingest.previousAccepted) the week before), \(d.ingest.duplicates) duplicates, \(d.ingest.rejected) rejected.</p>"
        for gap in d.ingest.gaps { text += "Gap: \(gap)\n"; html += "<p>Gap: \(escape(gap))</p>" }
        if !d.beta.isEmpty { html += "<h2>Beta</h2>" }
        for b in d.beta {
            let line = "Beta \(b.program): \(b.stuck.count) enrollments stuck over 14 days, \(b.migratedButSilent.count) migrated but silent for 14 days, \(b.failedRuns) of \(b.runs) runs failed this week."
            text += line + "\n"
            html += "<p>\(escape(line))</p>"
            for x in b.stuck + b.migratedButSilent {
                let item = "  #\(x.id)\(x.organization.map { " \($0)" } ?? ""): \(x.status), \(x.days) days"
                text += item + "\n"
                html += "<p style=\"margin-left: 1em\">\(escape(item))</p>"
            }
        }
        if !d.instrumentation.isEmpty { html += "<h2>Instrumentation</h2>" }
        for r in d.instrumentation {
            let line = String(format: "Instrumentation: %@ on %@ failed in %.0f %% of %lld reports (%.0f %% the week before).", r.metric, r.version, r.errorRate * 100, r.reports, r.previousErrorRate * 100)
            text += line + "\n"
            html += "<p>\(escape(line))</p>"
        }
        if let url = d.dashboardURL { text += "\nDashboard: \(url)\n"; html += "<p><a href=\"\(escape(url))\">Open the dashboard</a></p>" }
        html += "</body></html>"
        return (text, html)
    }

    /// An alert that started or stopped holding: plain text only.
    public static func alert(_ a: AlertDocument, from: String, to: String, publicURL: String?) -> [UInt8] {
        var text = "\(a.rule.metric) \(a.rule.condition.rawValue) \(a.rule.threshold): \(a.state) for \(a.group) in the \(a.rule.interval.rawValue) of \(a.period).\n\n\(a.detail)\n"
        if let publicURL { text += "\nDashboards: \(publicURL)\n" }
        var m = "From: \(from)\r\nTo: \(to)\r\nSubject: \(headerSafe("pingroll alert \(a.state): \(a.rule.metric) (\(a.group))"))\r\nMIME-Version: 1.0\r\n"
        m += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\(crlf(text))\r\n"
        return Array(m.utf8)
    }

    /// Text for a header line: control characters (a CR/LF would start a header of its own) and
    /// anything past 200 characters left out.
    static func headerSafe(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(200)))
    }

    static func escape(_ s: String) -> String { HTMLText.escape(s) }

    /// Lines end in CRLF, and a line that is a single dot cannot end the message early.
    static func crlf(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).map { $0 == "." ? ".." : String($0) }.joined(separator: "\r\n")
    }
}

/// One message through SMTP, by libcurl (STARTTLS, AUTH): every cost bounded by a timeout.
public enum MailSend {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Sends `message` (headers and body) to `to`, with `Message-ID` and `X-Pingroll-Delivery` added.
    public static func send(_ settings: MailSettings, to: String, message: [UInt8], deliveryID: String) throws(Failure) {
        guard initialized, let handle = curl_easy_init() else { throw Failure(description: "the SMTP client could not start") }
        defer { curl_easy_cleanup(handle) }
        let domain = settings.from.split(separator: "@").last.map(String.init) ?? "pingroll"
        let payload = Reader(Array("Message-ID: <\(deliveryID)@\(domain)>\r\nX-Pingroll-Delivery: \(deliveryID)\r\n".utf8) + message)
        let context = Unmanaged.passRetained(payload)
        defer { context.release() }
        let recipients: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "<\(to)>")
        defer { curl_slist_free_all(recipients) }
        var errorText = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let millis = Int(max(1, min(settings.timeoutSeconds, 600)) * 1000)
        let code: CURLcode = errorText.withUnsafeMutableBufferPointer { errorBuffer in
            _ = pingroll_curl_set_pointer(handle, CURLOPT_URL, settings.url)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps")
            _ = pingroll_curl_set_long(handle, CURLOPT_USE_SSL, settings.requireTLS ? Int(CURLUSESSL_ALL.rawValue) : Int(CURLUSESSL_TRY.rawValue))
            _ = pingroll_curl_set_pointer(handle, CURLOPT_MAIL_FROM, "<\(settings.from)>")
            _ = pingroll_curl_set_pointer(handle, CURLOPT_MAIL_RCPT, recipients)
            if let ca = settings.caFile { _ = pingroll_curl_set_pointer(handle, CURLOPT_CAINFO, ca) }
            if let user = settings.username { _ = pingroll_curl_set_pointer(handle, CURLOPT_USERNAME, user) }
            if let password = settings.password { _ = pingroll_curl_set_pointer(handle, CURLOPT_PASSWORD, password) }
            _ = pingroll_curl_set_long(handle, CURLOPT_UPLOAD, 1)
            _ = pingroll_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = pingroll_curl_set_long(handle, CURLOPT_TIMEOUT_MS, millis)
            _ = pingroll_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(millis, 15_000))
            _ = pingroll_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer.baseAddress)
            _ = pingroll_curl_set_data_callback(handle, CURLOPT_READFUNCTION, Reader.read)
            _ = pingroll_curl_set_pointer(handle, CURLOPT_READDATA, context.toOpaque())
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            throw Failure(description: "SMTP: " + BoundedFetch.curlError(code, errorText))
        }
    }

    private final class Reader {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        static let read: pingroll_curl_data_callback = { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let reader = Unmanaged<Reader>.fromOpaque(context).takeUnretainedValue()
            let (room, overflow) = size.multipliedReportingOverflow(by: count)
            guard !overflow else { return 0 }
            let n = min(room, reader.bytes.count - reader.offset)
            guard n > 0 else { return 0 }
            reader.bytes.withUnsafeBytes { src in
                UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + reader.offset, byteCount: n)
            }
            reader.offset += n
            return n
        }
    }
}
