import Foundation
import Synchronization
import Testing
import PingRollCore

/// `pingroll retention apply`, the admin route and serve's daily run, against a real serve.
@Suite struct RetentionCommandTests {
    static func ping(_ uuid: String, daysAgo: Int, db: Bool) -> String {
        let at = Timestamp(milliseconds: Timestamp.now().milliseconds - Int64(daysAgo) * 86_400_000 - 3_600_000)
        return #"{"uuid":"\#(uuid)","hostname":"h-\#(uuid)","recorded_at":"\#(at)","version":"17.1.0-ee","edition":"EEP","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(db)}}"#
    }

    func token(_ server: ServerProcess, role: String) throws -> String { try server.token(role: role) }

    @Test func retentionApplyBesideAServingPingrollKeepsEveryRollupAndSaysWhatWent() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let http = server.client()
        var old: [Int] = []
        var recent: [Int] = []
        for i in 0..<40 {
            let daysAgo = 3 + i * 4  // 3 to 159 days ago
            let response = try http.postJSON("/usage_data", Self.ping("u\(i % 9)", daysAgo: daysAgo, db: i % 3 == 0))
            #expect(response.status == 201)
            let id = try #require((response.json?["conv_index"] as? [String: Any])?["usage_data_id"] as? Int)
            if daysAgo > 60 { old.append(id) } else { recent.append(id) }
        }
        let viewer = [("Authorization", "Bearer \(try token(server, role: "viewer"))")]
        let admin = [("Authorization", "Bearer \(try token(server, role: "admin"))")]
        // Up to two days ago by day: the live pings posted below fall after it.
        let to = isoDate(days: PeriodKind.day.start(of: .now()) - 2)
        let seriesPath = "/api/v1/series?metric=container_registry_server.db_enabled&interval=day&from=\(isoDate(days: PeriodKind.day.start(of: .now()) - 200))&to=\(to)&group_by=version"
        let before = try http.request("GET", seriesPath, headers: viewer).text

        // Clients keep posting (recent pings) while retention runs.
        let stop = Atomic<Bool>(false)
        let posted = Atomic<Int>(0)
        let poster = Thread {
            var n = 0
            while !stop.load(ordering: .relaxed) {
                if (try? server.client().postJSON("/usage_data", Self.ping("live\(n % 5)", daysAgo: 0, db: true)))?.status == 201 { posted.add(1, ordering: .relaxed) }
                n += 1
            }
        }
        poster.start()
        var (status, output) = try server.runCommand(["retention", "apply", "--payload-days", "60", "--dry-run"])
        #expect(status == 0 && output.contains("would drop \(old.count) payloads"), "\(output)")
        (status, output) = try server.runCommand(["retention", "apply", "--payload-days", "60", "--report-days", "30", "--batch", "3"])
        #expect(status == 0 && output.contains("dropped \(old.count) payloads") && output.contains("0 quarantine entries"), "\(output)")
        stop.store(true, ordering: .relaxed)
        while !poster.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        #expect(posted.load(ordering: .relaxed) > 0, "pings were stored while retention ran")

        (status, output) = try server.runCommand(["rollup", "verify"])
        #expect(status == 0, "\(output)")
        let afterText = try http.request("GET", seriesPath, headers: viewer).text
        #expect(afterText == before, "the rollups the old pings made are unchanged")
        let uuidOf = { (id: Int) -> String in "u\((old + recent).sorted().firstIndex(of: id)! % 9)" }
        let gone = try http.request("GET", "/api/v1/installations/\(uuidOf(old[0]))/pings/\(old[0])/raw", headers: admin)
        #expect(gone.status == 410 && gone.text.contains("payload_dropped"), "\(gone.status) \(gone.text)")
        let kept = try http.request("GET", "/api/v1/installations/\(uuidOf(recent[0]))/pings/\(recent[0])/raw", headers: admin)
        #expect(kept.status == 200 && kept.text.contains("recorded_at"), "\(kept.status)")

        (status, output) = try server.runCommand(["retention", "runs"])
        #expect(status == 0 && output.split(separator: "\n").count == 1 && output.contains("dropped \(old.count) payloads"), "the dry run is not recorded: \(output)")
        let nothing = try http.request("POST", "/api/v1/retention", headers: admin + [("Content-Type", "application/json")], body: Array("{}".utf8))
        #expect(nothing.status == 409 && nothing.text.contains("no_policy"), "no period and no daily policy: \(nothing.status) \(nothing.text)")
        let route = try http.request("GET", "/api/v1/retention", headers: admin).json
        #expect((route?["runs"] as? [[String: Any]])?.first?["payloads"] as? Int == old.count && route?["policy"] is NSNull, "\(String(describing: route))")

        // A metric added to the catalog later cannot be read from the dropped payloads: the
        // rebuild says which periods it could not backfill.
        let shipped = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas/metrics.catalog.json"))) as! [String: Any]
        var metrics = shipped["metrics"] as! [[String: Any]]
        metrics.append(["key_path": "counts.added_later", "value_type": "number", "data_category": "standard", "description": "added later"])
        let catalog = server.directory.appendingPathComponent("wider.catalog.json")
        try JSONSerialization.data(withJSONObject: ["metrics": metrics]).write(to: catalog)
        (status, output) = try server.runCommand(["rollup", "rebuild", "--metric", "counts.added_later", "--catalog", catalog.path])
        #expect(status == 0 && output.contains("\(old.count) pings had their raw payloads dropped by retention")
                && output.contains("not backfilled from raw payloads:") && output.contains(" weeks from "), "\(output)")

        for (arguments, message) in [(["retention", "apply"], "nothing to apply"), (["retention", "apply", "--payload-days", "0"], "--payload-days"),
                                     (["retention", "apply", "--report-days", "40000"], "--report-days"),
                                     (["retention", "apply", "--payload-days", "9", "--batch", "0"], "--batch")] {
            (status, output) = try server.runCommand(arguments)
            #expect(status != 0 && output.contains(message), "\(arguments): \(output)")
        }
    }

    @Test func serveAppliesItsPolicyDailyAndTheAdminRouteRunsItOnRequest() throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-retention-\(UUID().uuidString).yaml").path
        try "retention:\n  payload-days: 60\n  report-days: 90\n".write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let server = try ServerProcess(arguments: ["--config", config], environment: ["PINGROLL_RETENTION_FIRST_CHECK_SECONDS": "0.2"])
        defer { server.cleanUp() }
        let http = server.client()
        for i in 0..<6 { #expect(try http.postJSON("/usage_data", Self.ping("d\(i)", daysAgo: i * 30, db: true)).status == 201) }
        let admin = [("Authorization", "Bearer \(try token(server, role: "admin"))"), ("Content-Type", "application/json")]
        let viewer = [("Authorization", "Bearer \(try token(server, role: "viewer"))"), ("Content-Type", "application/json")]
        #expect(server.log.contains("applying retention daily: payloads after 60 days, reports after 90 days"), "\(server.log)")

        // The first daily run comes 0.2 s after start; the pings above may be stored before or after it.
        var runs: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && runs.isEmpty {
            runs = (try http.request("GET", "/api/v1/retention", headers: admin).json?["runs"] as? [[String: Any]]) ?? []
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(runs.count == 1, "one daily run, and not another within the day: \(runs)")
        let status = try http.request("GET", "/api/v1/retention", headers: admin).json
        #expect((status?["policy"] as? [String: Any])?["payload_days"] as? Int == 60)

        let dry = try http.finishedJob(try http.request("POST", "/api/v1/retention", headers: admin, body: Array(#"{"dry_run": true}"#.utf8)), headers: admin)
        #expect(dry.status == 200 && dry.json?["dry_run"] as? Bool == true && (dry.json?["policy"] as? [String: Any])?["report_days"] as? Int == 90, "\(dry.text)")
        let applied = try http.finishedJob(try http.request("POST", "/api/v1/retention", headers: admin, body: Array(#"{"payload_days": 45}"#.utf8)), headers: admin)
        let expected = 4 - (runs.first?["payloads"] as? Int ?? 0)  // 60, 90, 120 and 150 days old, less what the daily run took
        #expect(applied.status == 200 && applied.json?["payloads"] as? Int == expected, "\(applied.text)")
        #expect(try server.runCommand(["rollup", "verify"]).0 == 0)

        let refusals: [([(String, String)], String, Int, String)] = [
            (viewer, #"{"dry_run": true}"#, 403, "forbidden"),
            (admin, #"{"payload_days": 0}"#, 422, "payload_days"),
            (admin, #"{"payload_days": 1.5}"#, 422, "payload_days"),
            (admin, #"{"report_days": "ten"}"#, 422, "report_days"),
            (admin, #"{"dry_run": "yes"}"#, 422, "dry_run"),
            (admin, #"{"keep": 3}"#, 422, "keep"),
            (admin, #"[1]"#, 400, "object"),
            (admin, #"{"payload_days": 10, "payload_days": 20}"#, 400, "twice"),
            ([admin[0], ("Content-Type", "text/plain")], #"{"dry_run": true}"#, 415, "application/json"),
        ]
        for (headers, body, code, message) in refusals {
            let r = try http.request("POST", "/api/v1/retention", headers: headers, body: Array(body.utf8))
            #expect(r.status == code && r.text.contains(message), "\(body): \(r.status) \(r.text)")
        }
    }
}
