import Foundation
import Logging
import Synchronization
import PingRollCore
import PingRollService
@testable import PingRollHTTP
@testable import PingRollStore

/// A `PingRollResponder` on a real SQLite file in a temp dir, called without a socket the way the
/// server calls it: head first, then the body (or the too-large path), then the completion.
final class ResponderHarness {
    let directory: URL
    let store: SQLiteStore
    let committer: GroupCommitter
    let responder: PingRollResponder

    init(limits: IngestLimits = IngestLimits(), catalog: MetricCatalog? = nil, presentation: SeriesPresentation = SeriesPresentation()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-http-\(UUID().uuidString)")
        store = try SQLiteStore(path: directory.appendingPathComponent("db.sqlite3").path, catalog: catalog)
        _ = try store.migrate()
        _ = try store.prepareRollups()
        let logger = Logger(label: "pingroll-http-tests")
        committer = GroupCommitter(store: store, logger: logger)
        // Webhook secrets sealed under a random key; the dashboards built into the binary.
        let dashboards = catalog.map { DashboardStore(directory: nil, catalog: $0) }
        let notify = NotifySettings(secrets: SecretBox(key: Digest.randomBytes(32)), dashboards: { dashboards?.dashboards ?? [] })
        responder = PingRollResponder(services: PingRollServices(store: store, committer: committer, limits: limits, logger: logger, notify: notify),
                                      logger: logger, metrics: PingRollMetrics(version: "test"), presentation: presentation)
    }

    deinit {
        committer.shutdown()
        store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func send(_ method: String, _ path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: [UInt8] = []) -> HTTPResponse {
        var allHeaders = headers
        if method == "POST", !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" }) {
            allHeaders.append(("Content-Length", "\(body.count)"))
        }
        // A query string in the path is split off and decoded the way libmicrohttpd does.
        var path = path, query = query
        if let mark = path.firstIndex(of: "?") {
            let items = URLComponents(string: "http://x/?" + path[path.index(after: mark)...])?.queryItems ?? []
            query += items.map { ($0.name, $0.value ?? "") }
            path = String(path[..<mark])
        }
        let head = HTTPRequestHead(method: method, path: path, query: query, headers: HTTPHeaders(allHeaders), remoteAddress: "127.0.0.1")
        var request = HTTPRequest(head: head, body: body)
        switch responder.head(head) {
        case .respond(let response):
            return response
        case .readBody(let maxBytes, let attachment):
            if body.count > maxBytes { return responder.bodyTooLarge(head, firstBytes: Array(body.prefix(maxBytes)), attachment: attachment) }
            request.attachment = attachment
        }
        let box = Mutex<HTTPResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        responder.respond(to: request) { response in
            box.withLock { $0 = response }
            done.signal()
        }
        done.wait()
        return box.withLock { $0! }
    }

    func postJSON(_ path: String, _ json: String, headers: [(String, String)] = [("Content-Type", "application/json")]) -> HTTPResponse {
        send("POST", path, headers: headers, body: Array(json.utf8))
    }

    /// A route that starts a job answers 202 with `Location`; this waits for the job and answers
    /// what the synchronous route gave (its `result_status` and `result`). Any other answer is
    /// given back as it is.
    func finishedJob(_ response: HTTPResponse) -> HTTPResponse {
        guard response.status == 202 else { return response }
        guard let location = response.headers.first(where: { $0.0 == "Location" })?.1, location.hasPrefix("/api/v1/jobs/"),
              let id = Int64(location.dropFirst("/api/v1/jobs/".count)), response.json?["id"] as? Int == Int(id) else {
            return HTTPResponse(status: 599, headers: [], body: Array("a 202 without a job's Location".utf8))
        }
        responder.jobs.drain()
        guard let job = try? store.job(id: id), job.state.isFinished else {
            return HTTPResponse(status: 598, headers: [], body: Array("the job did not finish".utf8))
        }
        return HTTPResponse(status: job.resultStatus ?? 500, headers: [("Content-Type", "application/json")],
                            body: Array((job.result ?? #"{"error": {"code": "job_failed", "message": "\#(job.error ?? "")"}}"#).utf8))
    }

    /// Waits until writes submitted without waiting (e.g. quarantine of an oversized body) committed.
    func drain() {
        _ = committer.submitAndWait(.clientReport(ClientReport(kind: .metadata, receivedAt: .now(), body: "{}")))
    }
}

extension HTTPResponse {
    var text: String { String(decoding: collectedBody(), as: UTF8.self) }

    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(collectedBody()))) as? [String: Any] }

    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }

    var usageDataID: Int? { ((json?["conv_index"] as? [String: Any])?["usage_data_id"] as? NSNumber)?.intValue }
}

func ping(uuid: String = "11111111-2222-3333-4444-555555555555", hostname: String = "gitlab.example.com",
          recordedAt: String = "2024-01-15T10:00:00Z", extra: String = "") -> String {
    #"{"uuid":"\#(uuid)","hostname":"\#(hostname)","recorded_at":"\#(recordedAt)","version":"16.5.1-ee","edition":"EEP","#
        + #""installation_type":"omnibus-gitlab","container_registry_enabled":true,"#
        + #""container_registry_server":{"vendor":"gitlab","version":"3.85.0-gitlab","db_enabled":true}\#(extra)}"#
}
