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
            #expect(throws: EnrollmentError.self, "\(bad)") { try RegistryStatistics.runs(from: Array(bad.utf8)) }
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

        let upload = s.call("POST", base + "/from-registry-statistics", Self.statistics)
        #expect(upload.status == 201 && (upload.json?["runs"] as? [Any])?.count == 1 && upload.json?["skipped"] as? Int == 0, "\(upload.text)")
        let again = s.call("POST", base + "/from-registry-statistics", Self.statistics)
        #expect(again.status == 201 && (again.json?["runs"] as? [Any])?.isEmpty == true && again.json?["skipped"] as? Int == 1, "the same attempts are not added twice")
        #expect((s.call("GET", base).json?["runs"] as? [Any])?.count == 2)
    }
}
