import Foundation
import Testing
import PingRollCore
@testable import PingRollHTTP
@testable import PingRollService
@testable import PingRollStore

/// Migration runs: recorded by hand, changed, and made from the registry's import statistics.
@Suite struct MigrationRunAPITests {
    /// The registry API spec's example: a three-step import as three attempts.
    static let statistics = #"""
    {"release":{"ext_features":"tag_delete","version":"v4.19.0-gitlab"},"database":{"enabled":true},"import":[
     {"id":1,"created_at":"2025-07-10T16:34:41.09796Z","started_at":"2025-07-10T16:34:39.5102Z","pre_import":true,"tag_import":false,"blob_import":false,
      "repositories_count":1,"tags_count":3,"manifests_count":3,"storage_driver":"filesystem","finished_at":"2025-07-10T16:34:41.093222Z",
      "pre_import_started_at":"2025-07-10T16:34:39.510403Z","pre_import_finished_at":"2025-07-10T16:34:41.093159Z"},
     {"id":2,"created_at":"2025-07-10T16:34:44.681779Z","started_at":"2025-07-10T16:34:44.611371Z","pre_import":false,"tag_import":true,"blob_import":false,
      "repositories_count":1,"tags_count":3,"manifests_count":3,"storage_driver":"filesystem","finished_at":"2025-07-10T16:34:44.676106Z",
      "tag_import_started_at":"2025-07-10T16:34:44.611559Z","tag_import_finished_at":"2025-07-10T16:34:44.675972Z"},
     {"id":3,"created_at":"2025-07-10T16:34:48.774293Z","started_at":"2025-07-10T16:34:48.469669Z","pre_import":false,"tag_import":false,"blob_import":true,
      "repositories_count":0,"tags_count":0,"manifests_count":0,"blobs_count":31,"blobs_size_bytes":16204713,"storage_driver":"filesystem",
      "finished_at":"2025-07-10T16:34:48.769978Z","blob_import_started_at":"2025-07-10T16:34:48.46984Z","blob_import_finished_at":"2025-07-10T16:34:48.769911Z"}
    ]}
    """#

    @Test func theRegistrysThreeAttemptsBecomeOneThreeStepRunWithItsPhasesAndCounts() throws {
        let runs = try RegistryStatistics.runs(from: Array(Self.statistics.utf8))
        #expect(runs.count == 1)
        let run = try #require(runs.first)
        #expect(run.mode == .threeStep && run.outcome == .succeeded && run.phases.map(\.name) == [.preImport, .tagImport, .blobImport])
        #expect(run.tags == 3 && run.repositories == 1 && run.manifests == 3 && run.blobs == 31 && run.blobsSizeBytes == 16_204_713 && run.storageDriver == "filesystem")
        #expect(run.registryImportIDs == [1, 2, 3] && run.startedAt == Timestamp.parseISO8601("2025-07-10T16:34:39.5102Z"))
        #expect(abs((run.downtimeSeconds ?? 0) - 0.064) < 0.001, "the tag import is the read-only window: \(String(describing: run.downtimeSeconds))")
    }

    @Test func oneStepImportsFailuresAndRetriesAreSeparateRuns() throws {
        let body = #"""
        {"import":[
         {"id":7,"started_at":"2025-01-01T10:00:00Z","finished_at":"2025-01-01T12:00:00Z","pre_import":true,"tag_import":true,"blob_import":true,
          "repositories_count":5,"tags_count":50,"manifests_count":60,"blobs_count":900,"blobs_size_bytes":1000000,"storage_driver":"s3aws"},
         {"id":8,"started_at":"2025-02-01T10:00:00Z","finished_at":"2025-02-01T11:00:00Z","pre_import":true,"tag_import":false,"blob_import":false,
          "pre_import_started_at":"2025-02-01T10:00:00Z","pre_import_finished_at":"2025-02-01T11:00:00Z","storage_driver":"gcs"},
         {"id":9,"started_at":"2025-02-02T10:00:00Z","finished_at":"2025-02-02T10:30:00Z","pre_import":false,"tag_import":true,"blob_import":false,
          "tag_import_started_at":"2025-02-02T10:00:00Z","tag_import_error":"database connection lost","storage_driver":"gcs"},
         {"id":10,"started_at":"2025-02-03T10:00:00Z","pre_import":true,"tag_import":false,"blob_import":false,"storage_driver":"gcs",
          "pre_import_started_at":"2025-02-03T10:00:00Z"}
        ]}
        """#
        let runs = try RegistryStatistics.runs(from: Array(body.utf8))
        #expect(runs.map(\.mode) == [.oneStep, .threeStep, .threeStep])
        #expect(runs.map(\.outcome) == [.succeeded, .failed, .running], "\(runs.map(\.outcome))")
        #expect(runs[0].storageDriver == "s3" && runs[0].phases.map(\.name) == [.import] && runs[0].downtimeSeconds == 7200)
        #expect(runs[1].phases.last?.error == "database connection lost" && runs[1].registryImportIDs == [8, 9])
        for bad in [#"{"import":[{"id":1,"started_at":"x","pre_import":true,"tag_import":false,"blob_import":false}]}"#,
                    #"{"import":[{"id":1,"started_at":"2025-01-01T00:00:00Z","pre_import":false,"tag_import":false,"blob_import":false}]}"#,
                    #"{"release":{}}"#, "[1]"] {
            #expect(throws: FieldError.self, "\(bad)") { try RegistryStatistics.runs(from: Array(bad.utf8)) }
        }
    }

    @Test func aRunIsRecordedChangedAndKeptInTheEnrollmentsHistory() throws {
        let s = try BetaAPITests().setup()
        let id = try #require(s.call("POST", "/api/v1/beta/programs/registry-metadata-db/enrollments", BetaAPITests().enrollment).json?["id"] as? Int)
        let base = "/api/v1/beta/programs/registry-metadata-db/enrollments/\(id)/migrations"
        let run = #"{"mode":"three_step","started_at":"2025-03-01T08:00:00Z","outcome":"running","storage_driver":"s3","registry_size_bytes":600000000000,"phases":[{"name":"pre_import","started_at":"2025-03-01T08:00:00Z","finished_at":"2025-03-01T20:00:00Z"}]}"#
        let created = s.call("POST", base, run)
        #expect(created.status == 201, "\(created.text)")
        let runID = try #require(created.json?["id"] as? Int)
        #expect(s.call("POST", base, run, token: s.viewer).status == 403)
        let patched = s.call("PATCH", "\(base)/\(runID)", #"{"outcome":"succeeded","finished_at":"2025-03-02T10:00:00Z","phases":[{"name":"pre_import","started_at":"2025-03-01T08:00:00Z","finished_at":"2025-03-01T20:00:00Z"},{"name":"tag_import","started_at":"2025-03-02T06:00:00Z","finished_at":"2025-03-02T07:30:00Z"},{"name":"blob_import","started_at":"2025-03-02T07:30:00Z","finished_at":"2025-03-02T10:00:00Z"}]}"#)
        #expect(patched.status == 200 && patched.json?["downtime_seconds"] as? Double == 5400 && patched.json?["total_seconds"] as? Double == 93600, "\(patched.text)")
        let list = s.call("GET", base).json?["runs"] as? [[String: Any]] ?? []
        #expect(list.count == 1 && list.first?["outcome"] as? String == "succeeded")
        let history = s.call("GET", "/api/v1/beta/enrollments/\(id)/history").json?["history"] as? [[String: Any]] ?? []
        let fields = history.compactMap { $0["field"] as? String }
        #expect(fields.contains("migration_run \(runID)") && fields.contains("migration_run \(runID) outcome") && fields.contains("migration_run \(runID) phases"), "\(fields)")

        let refusals: [(String, String)] = [
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","phases":[{"name":"tag_import"}]}"#, "phases[0].name"),
            (#"{"mode":"three_step","started_at":"2025-03-02T08:00:00Z","finished_at":"2025-03-01T08:00:00Z","outcome":"failed"}"#, "finished_at"),
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","registry_size_bytes":-1}"#, "registry_size_bytes"),
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","outcome":"succeeded"}"#, "finished_at"),
            (#"{"mode":"three_step","started_at":"2025-03-01T08:00:00Z","phases":[{"name":"tag_import","started_at":"2025-03-01T09:00:00Z"},{"name":"pre_import","started_at":"2025-03-01T10:00:00Z"}]}"#, "phases"),
            (#"{"mode":"two_step","started_at":"2025-03-01T08:00:00Z"}"#, "mode"),
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","storage_driver":"ftp"}"#, "storage_driver"),
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","speed":3}"#, "speed"),
            (#"{"mode":"one_step","started_at":"2025-03-01T08:00:00Z","tags":1.5}"#, "tags"),
        ]
        for (body, field) in refusals {
            let r = s.call("POST", base, body)
            #expect(r.status == 422 && r.text.contains("`\(field)`"), "\(body): \(r.status) \(r.text)")
        }
        #expect(s.call("PATCH", "\(base)/999", #"{"notes":"x"}"#).status == 404)
        #expect(s.call("GET", "/api/v1/beta/programs/other/enrollments/\(id)/migrations").status == 404)

        let upload = s.h.finishedJob(s.call("POST", base + "/from-registry-statistics", Self.statistics))
        #expect(upload.status == 201 && (upload.json?["runs"] as? [Any])?.count == 1 && upload.json?["skipped"] as? Int == 0, "\(upload.text)")
        let again = s.h.finishedJob(s.call("POST", base + "/from-registry-statistics", Self.statistics))
        #expect(again.status == 201 && (again.json?["runs"] as? [Any])?.isEmpty == true && again.json?["skipped"] as? Int == 1, "the same attempts are not added twice")
        #expect((s.call("GET", base).json?["runs"] as? [Any])?.count == 2)
    }

    /// Each analytics figure against a recompute from what the test recorded.
    @Test func analyticsFiguresMatchARecomputeFromTheRecordedRunsHistoryAndFeedback() throws {
        let s = try BetaAPITests().setup()
        let program = "/api/v1/beta/programs/registry-metadata-db"
        var ids: [Int] = []
        for org in ["A", "B", "C"] {
            let body = #"{"organization":"\#(org)","contact_name":"N","contact_email":"n@\#(org.lowercased()).example"}"#
            ids.append(try #require(s.call("POST", program + "/enrollments", body).json?["id"] as? Int))
        }
        // A: enrolled → importing → migrated; B: enrolled → importing (still); C: interested.
        for (id, statuses) in [(ids[0], ["enrolled", "importing", "migrated"]), (ids[1], ["enrolled", "importing"])] {
            for status in statuses { #expect(s.call("PATCH", "/api/v1/beta/enrollments/\(id)", #"{"status":"\#(status)"}"#).status == 200) }
        }
        // Backdate the history: the days each stay took are then known.
        let day: Int64 = 86_400_000, t0 = Timestamp.now().milliseconds - 60 * day
        let conn = try SQLiteConnection(path: s.h.directory.appendingPathComponent("db.sqlite3").path)
        defer { conn.close() }
        let dates: [(Int, String, Int64)] = [(ids[0], "interested", t0), (ids[0], "enrolled", t0 + 2 * day), (ids[0], "importing", t0 + 12 * day),
                                             (ids[0], "migrated", t0 + 15 * day), (ids[1], "interested", t0), (ids[1], "enrolled", t0 + 4 * day),
                                             (ids[1], "importing", t0 + 10 * day), (ids[2], "interested", t0 + 50 * day)]
        for (id, status, at) in dates {
            try conn.query("UPDATE beta_history SET at = $1 WHERE enrollment_id = $2 AND field = 'status' AND new_value = $3",
                           [.integer(at), .integer(Int64(id)), .text(status)], operation: "test")
        }
        // Runs: random drivers, sizes, outcomes and durations; the expected table computed here.
        var rng = SplitMix(state: 3)
        struct Recorded { var driver: String; var size: Int64; var outcome: String; var seconds: Double; var downtime: Double; var phaseError: String? }
        var recorded: [Recorded] = []
        let gib: Int64 = 1 << 30
        for k in 0..<14 {
            let driver = ["s3", "gcs"][Int.random(in: 0..<2, using: &rng)]
            let size = [50 * gib, 500 * gib, 5 * 1024 * gib][Int.random(in: 0..<3, using: &rng)]
            let outcome = ["succeeded", "succeeded", "failed"][Int.random(in: 0..<3, using: &rng)]
            let start = Timestamp(milliseconds: t0 + Int64(k) * day)
            let hours = Int64.random(in: 1...30, using: &rng), tagMinutes = Int64.random(in: 5...90, using: &rng)
            let tagStart = Timestamp(milliseconds: start.milliseconds + 3_600_000), tagEnd = Timestamp(milliseconds: tagStart.milliseconds + tagMinutes * 60_000)
            let end = Timestamp(milliseconds: start.milliseconds + hours * 3_600_000 + tagMinutes * 60_000 + 3_600_000)
            let error = outcome == "failed" ? (k % 2 == 0 ? "tag_import" : "blob_import") : nil
            var tag: [String: Any] = ["name": "tag_import", "started_at": "\(tagStart)", "finished_at": "\(tagEnd)"]
            var blob: [String: Any] = ["name": "blob_import", "started_at": "\(tagEnd)", "finished_at": "\(end)"]
            if error == "tag_import" { tag["error"] = "database connection lost at /x.go:12" }
            if error == "blob_import" { blob["error"] = "storage timeout" }
            let object: [String: Any] = ["mode": "three_step", "started_at": "\(start)", "finished_at": "\(end)", "outcome": outcome, "storage_driver": driver,
                                         "registry_size_bytes": size, "phases": [["name": "pre_import", "started_at": "\(start)", "finished_at": "\(tagStart)"], tag, blob]]
            let body = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let r = s.call("POST", program + "/enrollments/\(ids[k % 2])/migrations", body)
            #expect(r.status == 201, "\(r.text)")
            recorded.append(Recorded(driver: driver, size: size, outcome: outcome, seconds: Double(end.milliseconds - start.milliseconds) / 1000,
                                     downtime: Double(tagMinutes * 60), phaseError: error))
        }
        for (rating, category) in [(5, "import"), (3, "import"), (2, "docs")] {
            #expect(s.call("POST", "/api/v1/beta/enrollments/\(ids[0])/feedback", #"{"category":"\#(category)","rating":\#(rating),"text":"t"}"#).status == 201)
        }
        let from = isoDate(days: PeriodKind.day.start(of: Timestamp(milliseconds: t0)) - 1)
        let r = s.call("GET", program + "/analytics?from=\(from)&stuck_after_days=14", token: s.viewer)
        #expect(r.status == 200, "\(r.text)")
        let json = try #require(r.json)

        func bucket(_ b: Int64) -> String { b < 100 * gib ? "<100GiB" : b < 1024 * gib ? "100GiB-1TiB" : b < 10 * 1024 * gib ? "1TiB-10TiB" : ">=10TiB" }
        func rank(_ v: [Double], _ p: Double) -> Double? { let x = v.sorted(); return x.isEmpty ? nil : x[max(1, Int((p * Double(x.count)).rounded(.up))) - 1] }
        let throughput = json["throughput"] as? [[String: Any]] ?? []
        let keys = Set(recorded.map { "\($0.driver)|\(bucket($0.size))" })
        #expect(throughput.count == keys.count)
        for row in throughput {
            let key = "\(row["storage_driver"] as? String ?? "")|\(row["size_bucket"] as? String ?? "")"
            let runs = recorded.filter { "\($0.driver)|\(bucket($0.size))" == key }
            let ok = runs.filter { $0.outcome == "succeeded" }
            #expect(row["runs"] as? Int == runs.count && row["succeeded"] as? Int == ok.count && row["failed"] as? Int == runs.count - ok.count, "\(key)")
            #expect(row["duration_p50_seconds"] as? Double == rank(ok.map(\.seconds), 0.5) || (ok.isEmpty && row["duration_p50_seconds"] is NSNull), "\(key)")
            #expect(row["duration_max_seconds"] as? Double == ok.map(\.seconds).max() || ok.isEmpty, "\(key)")
            #expect(row["downtime_max_seconds"] as? Double == ok.map(\.downtime).max() || ok.isEmpty, "\(key)")
            #expect(row["downtime_p50_seconds"] as? Double == rank(ok.map(\.downtime), 0.5) || ok.isEmpty, "\(key)")
            let rates = ok.map { Double($0.size) / ($0.seconds / 3600) }
            #expect(row["bytes_per_hour_max"] as? Double == rates.max().map { $0.rounded() } || ok.isEmpty, "\(key)")
            #expect(row["bytes_per_hour_p50"] as? Double == rank(rates, 0.5).map { $0.rounded() } || ok.isEmpty, "\(key)")
        }
        let byPhase = Dictionary(uniqueKeysWithValues: (json["failures_by_phase"] as? [[String: Any]] ?? []).map { ($0["key"] as? String ?? "", $0["runs"] as? Int ?? 0) })
        #expect(byPhase == Dictionary(grouping: recorded.compactMap(\.phaseError), by: { $0 }).mapValues(\.count), "\(byPhase)")
        let messages = (json["failures_by_message"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
        #expect(Set(messages).isSubset(of: ["database connection lost", "storage timeout"]), "the location is stripped: \(messages)")

        let funnel = Dictionary(uniqueKeysWithValues: (json["funnel"] as? [[String: Any]] ?? []).map { ($0["status"] as? String ?? "", $0) })
        #expect(funnel["enrolled"]?["reached"] as? Int == 2 && funnel["importing"]?["reached"] as? Int == 2 && funnel["migrated"]?["reached"] as? Int == 1)
        #expect(funnel["interested"]?["reached"] as? Int == 3 && funnel["interested"]?["current"] as? Int == 1)
        // Stays that ended: interested 2 and 4 days; enrolled 10 and 6; importing 3 (B's is ongoing).
        #expect(funnel["interested"]?["days_p50"] as? Double == 2 && funnel["interested"]?["days_p90"] as? Double == 4)
        #expect(funnel["enrolled"]?["days_p50"] as? Double == 6 && funnel["enrolled"]?["days_p90"] as? Double == 10)
        #expect(funnel["importing"]?["days_p50"] as? Double == 3)
        let stuck = json["stuck"] as? [[String: Any]] ?? []
        #expect(stuck.count == 1 && stuck.first?["enrollment_id"] as? Int == ids[1] && stuck.first?["status"] as? String == "importing", "B imports for 50 days: \(stuck)")
        let feedback = json["feedback"] as? [[String: Any]] ?? []
        let importFeedback = feedback.first { $0["category"] as? String == "import" }
        #expect(importFeedback?["count"] as? Int == 2 && importFeedback?["mean_rating"] as? Double == 4, "\(feedback)")
        let adoption = json["adoption"] as? [String: Any] ?? [:]
        #expect(adoption["enrolled_or_further"] as? Int == 2 && adoption["db_enabled"] as? Int == 0)
        #expect(!r.text.contains("@") && !r.text.contains("\"A\""), "no contacts or organizations")
    }

    /// A program that ran in spreadsheets comes in with its dates: the history, the funnel and
    /// the timeline show what really happened, not a spike on the import day.
    @Test func aProgramRunInSpreadsheetsComesInWithItsRealDates() throws {
        let s = try BetaAPITests().setup()
        let program = "/api/v1/beta/programs/registry-metadata-db"
        let csv = "organization,contact_name,contact_email,status,created_at,enrolled_at,importing_at,migrated_at\r\n"
            + "Old Co,Ann,ann@old.example,migrated,2024-01-02,2024-01-10,2024-02-01,2024-02-04T12:00:00Z\r\n"
            + "Slow Co,Bob,bob@slow.example,,2024-03-01,2024-03-15,,\r\n"
        let headers = [("Authorization", "Bearer \(s.pm)"), ("Content-Type", "text/csv")]
        let imported = s.h.finishedJob(s.h.send("POST", program + "/enrollments/import", headers: headers, body: Array(csv.utf8)))
        #expect(imported.status == 200 && imported.json?["created"] as? Int == 2, "\(imported.text)")
        let list = s.call("GET", program + "/enrollments").json?["enrollments"] as? [[String: Any]] ?? []
        let old = try #require(list.first { $0["organization"] as? String == "Old Co" })
        #expect(old["status"] as? String == "migrated" && (old["created_at"] as? String ?? "").hasPrefix("2024-01-02"), "\(old)")
        let history = s.call("GET", "/api/v1/beta/enrollments/\(old["id"] as? Int ?? 0)/history").json?["history"] as? [[String: Any]] ?? []
        let statuses = history.filter { $0["field"] as? String == "status" }.map { "\($0["new"] as? String ?? ""):\(($0["at"] as? String ?? "").prefix(10))" }
        #expect(statuses == ["interested:2024-01-02", "enrolled:2024-01-10", "importing:2024-02-01", "migrated:2024-02-04"], "\(statuses)")
        #expect(list.first { $0["organization"] as? String == "Slow Co" }?["status"] as? String == "enrolled")

        let analytics = try #require(s.call("GET", program + "/analytics?from=2024-01-01", token: s.viewer).json)
        let funnel = Dictionary(uniqueKeysWithValues: (analytics["funnel"] as? [[String: Any]] ?? []).map { ($0["status"] as? String ?? "", $0) })
        #expect(funnel["enrolled"]?["days_p50"] as? Double == 22 && funnel["importing"]?["days_p50"] as? Double == 3.5, "\(funnel)")
        #expect((analytics["stuck"] as? [[String: Any]])?.first?["status"] as? String == "enrolled", "Slow Co is enrolled since 2024-03-15")
        let timeline = s.call("GET", program + "/timeline?interval=month&from=2024-01-01&to=2024-03-31", token: s.viewer).json?["periods"] as? [[String: Any]] ?? []
        let january = (timeline.first?["by_status"] as? [String: Int]) ?? [:]
        #expect(january["enrolled"] == 1 && january["migrated"] == 0, "January ends with Old Co enrolled: \(january)")

        let refusals: [(String, String)] = [
            ("organization,contact_name,contact_email,created_at,enrolled_at\r\nA,N,n@a.example,2024-05-01,2024-04-01\r\n", "enrolled_at"),
            ("organization,contact_name,contact_email,status,enrolled_at\r\nA,N,n@a.example,migrated,2024-04-01\r\n", "status"),
            ("organization,contact_name,contact_email,enrolled_at\r\nA,N,n@a.example,2999-01-01\r\n", "enrolled_at"),
            ("organization,contact_name,contact_email,enrolled_at\r\nA,N,n@a.example,soon\r\n", "enrolled_at"),
        ]
        for (body, column) in refusals {
            let r = s.h.finishedJob(s.h.send("POST", program + "/enrollments/import", headers: headers, body: Array(body.utf8)))
            #expect(r.status == 422 && (r.json?["errors"] as? [[String: Any]])?.first?["column"] as? String == column, "\(body): \(r.text)")
        }
    }

    /// Error texts and phase labels are typed by people and can name them, their hosts and
    /// buckets: viewers get them masked, grouped after masking; pms see them as typed.
    @Test func viewersGetFreeTextMaskedAndGroupedAfterMasking() throws {
        let s = try BetaAPITests().setup()
        let program = "/api/v1/beta/programs/registry-metadata-db"
        let id = try #require(s.call("POST", program + "/enrollments",
                                     #"{"organization":"A","contact_name":"N","contact_email":"n@a.example","phase":"wave 1 (ann@corp.example)"}"#).json?["id"] as? Int)
        let errors = ["cannot reach registry.corp-a.example:5000 for ann@corp.example", "cannot reach 10.1.2.3:5000 for bob@corp.example",
                      "bucket s3://acme-registry/docker/registry is read-only", "path /var/opt/gitlab/registry/data is full"]
        for error in errors {
            let start = Timestamp(milliseconds: Timestamp.now().milliseconds - 7_200_000), end = Timestamp(milliseconds: start.milliseconds + 600_000)
            let body = #"{"mode":"one_step","started_at":"\#(start)","finished_at":"\#(end)","outcome":"failed","phases":[{"name":"import","started_at":"\#(start)","finished_at":"\#(end)","error":"\#(error)"}]}"#
            #expect(s.call("POST", program + "/enrollments/\(id)/migrations", body).status == 201)
        }
        func messages(_ token: String) -> [String: Int] {
            let json = s.call("GET", program + "/analytics", token: token).json
            return Dictionary(uniqueKeysWithValues: (json?["failures_by_message"] as? [[String: Any]] ?? []).map { ($0["key"] as? String ?? "", $0["runs"] as? Int ?? 0) })
        }
        #expect(messages(s.viewer) == ["cannot reach <host> for <email>": 2, "bucket <url> is read-only": 1, "path <path> is full": 1], "\(messages(s.viewer))")
        #expect(Set(messages(s.pm).keys) == Set(errors), "pms read the text as typed")
        let viewerPhases = s.call("GET", program + "/summary", token: s.viewer).json?["by_phase"] as? [String: Int]
        #expect(viewerPhases == ["wave 1 (<email>)": 1], "\(String(describing: viewerPhases))")
        let pmPhases = s.call("GET", program + "/summary", token: s.pm).json?["by_phase"] as? [String: Int]
        #expect(pmPhases == ["wave 1 (ann@corp.example)": 1])
    }
}
