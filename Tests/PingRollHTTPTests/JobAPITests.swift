import Foundation
import Synchronization
import Testing
import PingRollCore
import PingRollService
@testable import PingRollHTTP
@testable import PingRollStore

/// The job lane over HTTP: long operations answer 202 with `Location`, are followed and
/// cancelled at `/api/v1/jobs/{id}`, and each role sees the kinds it may start.
@Suite struct JobAPITests {
    struct Setup {
        let h: ResponderHarness
        let pm: String, viewer: String, admin: String

        func call(_ method: String, _ path: String, _ body: String? = nil, token: String, type: String = "application/json") -> HTTPResponse {
            var headers = [("Authorization", "Bearer \(token)")]
            if body != nil { headers.append(("Content-Type", type)) }
            return h.send(method, path, headers: headers, body: Array((body ?? "").utf8))
        }
    }

    func setup() throws -> Setup {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        let s = Setup(h: h, pm: try h.store.createToken(name: "pat", role: .pm).text, viewer: try h.store.createToken(name: "vic", role: .viewer).text,
                      admin: try h.store.createToken(name: "ada", role: .admin).text)
        #expect(s.call("POST", "/api/v1/beta/programs", #"{"slug":"p","name":"P"}"#, token: s.pm).status == 201)
        return s
    }

    static func csv(rows: Int) -> String {
        "organization,contact_name,contact_email\r\n" + (0..<rows).map { "Org \($0),C \($0),c\($0)@x.example\r\n" }.joined()
    }

    @Test func anImportAnswers202WithItsLocationAndTheJobCarriesTheReport() throws {
        let s = try setup()
        let r = s.call("POST", "/api/v1/beta/programs/p/enrollments/import", Self.csv(rows: 3), token: s.pm, type: "text/csv")
        #expect(r.status == 202, "\(r.status) \(r.text)")
        let id = try #require(r.json?["id"] as? Int)
        #expect(r.headers.contains { $0.0 == "Location" && $0.1 == "/api/v1/jobs/\(id)" })
        #expect(r.json?["kind"] as? String == "enrollments_import" && r.json?["subject"] as? String == "p" && r.json?["created_by"] as? String == "pat")
        s.h.responder.jobs.drain()
        let job = s.call("GET", "/api/v1/jobs/\(id)", token: s.pm)
        #expect(job.status == 200 && job.json?["state"] as? String == "succeeded" && job.json?["result_status"] as? Int == 200, "\(job.text)")
        #expect((job.json?["result"] as? [String: Any])?["created"] as? Int == 3, "\(job.text)")
        #expect((job.json?["progress"] as? [String: Any])?["done"] as? Int != nil)
        #expect(job.json?["finished_at"] is String && job.json?["started_at"] is String)
        // An import with invalid rows fails with the report the synchronous route gave (422).
        let bad = s.h.finishedJob(s.call("POST", "/api/v1/beta/programs/p/enrollments/import", "organization,contact_name\r\nA,B\r\n", token: s.pm, type: "text/csv"))
        #expect(bad.status == 422, "\(bad.text)")
    }

    @Test func eachRoleSeesTheJobsOfTheKindsItMayStart() throws {
        let s = try setup()
        let importJob = s.call("POST", "/api/v1/beta/programs/p/enrollments/import", Self.csv(rows: 1), token: s.pm, type: "text/csv")
        let rebuild = s.call("POST", "/api/v1/rollups/rebuild", "{}", token: s.admin)
        #expect(rebuild.status == 202 && rebuild.json?["kind"] as? String == "rollup_rebuild", "\(rebuild.text)")
        s.h.responder.jobs.drain()
        let rebuildID = try #require(rebuild.json?["id"] as? Int), importID = try #require(importJob.json?["id"] as? Int)
        let adminList = (s.call("GET", "/api/v1/jobs", token: s.admin).json?["jobs"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }
        #expect(adminList == [rebuildID, importID], "newest first: \(String(describing: adminList))")
        let pmList = (s.call("GET", "/api/v1/jobs", token: s.pm).json?["jobs"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }
        #expect(pmList == [importID])
        #expect(s.call("GET", "/api/v1/jobs/\(rebuildID)", token: s.pm).status == 404, "a pm does not see a rebuild")
        #expect(s.call("DELETE", "/api/v1/jobs/\(rebuildID)", token: s.pm).status == 404)
        #expect(s.call("GET", "/api/v1/jobs", token: s.viewer).status == 403)
        #expect(s.call("POST", "/api/v1/rollups/rebuild", "{}", token: s.pm).status == 403)
        let done = s.call("GET", "/api/v1/jobs/\(rebuildID)", token: s.admin)
        #expect(done.json?["state"] as? String == "succeeded" && (done.json?["result"] as? [String: Any])?["metrics"] is [Any], "\(done.text)")
        #expect(s.call("GET", "/api/v1/jobs/999999", token: s.admin).status == 404)
        #expect(s.call("GET", "/api/v1/jobs/abc", token: s.admin).status == 404)
    }

    @Test func aRebuildOfAMetricNotInTheCatalogOrWithUnknownFieldsIsRefusedAtOnce() throws {
        let s = try setup()
        for (body, code) in [(#"{"metric":"no.such.metric"}"#, 422), (#"{"metrics":["a"]}"#, 422), (#"{"metric":3}"#, 422), ("[1]", 400)] {
            let r = s.call("POST", "/api/v1/rollups/rebuild", body, token: s.admin)
            #expect(r.status == code, "\(body): \(r.status) \(r.text)")
        }
        #expect(try s.h.store.jobs(kinds: Set(JobKind.allCases), limit: 10).isEmpty, "no job was started")
        let one = s.h.finishedJob(s.call("POST", "/api/v1/rollups/rebuild", #"{"metric":"container_registry_server.db_enabled"}"#, token: s.admin))
        #expect(one.status == 200 && one.json?["metrics"] as? [String] == ["container_registry_server.db_enabled"], "\(one.text)")
    }

    @Test func aCancelledQueuedJobNeverRunsAndAFinishedOneIsAnsweredUnchanged() throws {
        let s = try setup()
        // A job that holds the lane until released, so the next one stays queued.
        let release = DispatchSemaphore(value: 0)
        let blocker = try s.h.responder.jobs.start(.retention, by: "test", subject: "blocker") { _ in
            release.wait()
            return Jobs.Outcome(status: 200, body: Array("{}".utf8))
        }
        let queued = s.call("POST", "/api/v1/beta/programs/p/enrollments/import", Self.csv(rows: 2), token: s.pm, type: "text/csv")
        #expect(queued.status == 202 && queued.json?["state"] as? String == "queued", "\(queued.text)")
        let id = try #require(queued.json?["id"] as? Int)
        let cancelled = s.call("DELETE", "/api/v1/jobs/\(id)", token: s.pm)
        #expect(cancelled.status == 200 && cancelled.json?["state"] as? String == "cancelled", "\(cancelled.text)")
        release.signal()
        s.h.responder.jobs.drain()
        #expect(try s.h.store.job(id: blocker.id)?.state == .succeeded)
        #expect(try s.h.store.enrollments(program: "p", after: 0, limit: 10).isEmpty, "the cancelled import wrote nothing")
        let again = s.call("DELETE", "/api/v1/jobs/\(id)", token: s.pm)
        #expect(again.status == 200 && again.json?["state"] as? String == "cancelled")
    }

    @Test func registryStatisticsAreCheckedAtOnceAndStoredByAJob() throws {
        let s = try setup()
        let x = try #require(s.call("POST", "/api/v1/beta/programs/p/enrollments", #"{"organization":"O","contact_name":"C","contact_email":"c@x.example"}"#,
                                    token: s.pm).json?["id"] as? Int)
        let base = "/api/v1/beta/programs/p/enrollments/\(x)/migrations/from-registry-statistics"
        #expect(s.call("POST", base, "{", token: s.pm).status == 400, "bad JSON is refused before any job")
        #expect(try s.h.store.jobs(kinds: [.registryStatistics], limit: 10).isEmpty)
    }
}

/// What a restart does to the jobs an earlier process left.
@Suite struct JobRecoveryTests {
    @Test func aJobLeftRunningIsFailedAsInterruptedButARebuildRunsAgain() throws {
        let h = try ResponderHarness(catalog: try MetricCatalog(json: Array(CatalogFixture.shipped.utf8)))
        // As a killed process leaves them: one import running, one rebuild running, one queued.
        let now = Timestamp.now()
        let importJob = try h.store.createJob(Job(kind: .enrollmentsImport, createdBy: "pat", subject: "p", createdAt: now))
        _ = try h.store.startJob(id: importJob.id, at: now)
        let rebuild = try h.store.createJob(Job(kind: .rollupRebuild, createdBy: "ada", subject: "", createdAt: now))
        _ = try h.store.startJob(id: rebuild.id, at: now)
        let queued = try h.store.createJob(Job(kind: .retention, createdBy: "ada", subject: "", createdAt: now))

        try h.responder.jobs.recover()
        h.responder.jobs.drain()
        let interrupted = try #require(try h.store.job(id: importJob.id))
        #expect(interrupted.state == .failed && interrupted.error?.hasPrefix("interrupted") == true, "\(interrupted)")
        #expect(try h.store.job(id: queued.id)?.state == .failed)
        let resumed = try #require(try h.store.job(id: rebuild.id))
        #expect(resumed.state == .succeeded && resumed.resultStatus == 200, "\(resumed)")
        #expect(try h.store.unfinishedJobs().isEmpty)
    }
}

/// Long work and API requests run at a lower CPU priority than ingest.
@Suite struct LanePriorityTests {
    @Test func jobsRunAtTheLongWorkNiceValueAndAPIRequestsAtTheAPIOne() throws {
        let h = try ResponderHarness()
        let seen = Mutex<Int32?>(nil)
        let job = try h.responder.jobs.start(.retention, by: "t", subject: "") { _ in
            seen.withLock { $0 = LanePriority.currentThreadNice() }
            return Jobs.Outcome(status: 200, body: Array("{}".utf8))
        }
        h.responder.jobs.drain()
        #expect(try h.store.job(id: job.id)?.state == .succeeded)
        #expect(seen.withLock { $0 } == LanePriority.longWork)

        let lane = APILane(workers: 1, maxQueued: 4, timeoutSeconds: 5)
        defer { lane.stop() }
        let apiNice = Mutex<Int32?>(nil)
        let done = DispatchSemaphore(value: 0)
        #expect(lane.submit(APILane.Ticket()) { apiNice.withLock { $0 = LanePriority.currentThreadNice() }; done.signal() })
        done.wait()
        #expect(apiNice.withLock { $0 } == LanePriority.api)
        #expect(LanePriority.currentThreadNice() == 0, "the test's own thread is untouched")
    }
}

/// The backend's full message is for the log: an answer carries the kind and the value-free reason.
@Suite struct StorageErrorAnswerTests {
    @Test func aStorageErrorsDebugDetailIsNeverInTheAnswer() throws {
        let h = try ResponderHarness()
        for kind in [StorageError.Kind.constraint, .busy, .other] {
            let error = StorageError(kind, operation: "storing a thing", reason: "constraint failed",
                                     debugDetail: "UNIQUE constraint failed: beta_enrollments.contact_email = 'ann@acme.example'")
            let answer = h.responder.errorResponse(error)
            #expect(answer.status >= 500 && !answer.text.contains("ann@acme.example") && !answer.text.contains("beta_enrollments"), "\(answer.text)")
            #expect(!error.description.contains("ann@acme.example"))
        }
        // A real one from SQLite carries the detail.
        let conn = try SQLiteConnection(path: h.directory.appendingPathComponent("x.sqlite3").path)
        defer { conn.close() }
        try conn.execute("CREATE TABLE t (a TEXT UNIQUE)")
        try conn.query("INSERT INTO t (a) VALUES ($1)", [.text("v")], operation: "t")
        do {
            try conn.query("INSERT INTO t (a) VALUES ($1)", [.text("v")], operation: "t")
            Issue.record("a duplicate was stored")
        } catch {
            #expect(error.kind == .constraint && error.debugDetail?.contains("t.a") == true, "\(String(describing: error.debugDetail))")
        }
    }
}

/// Typed route parameters: a value that does not parse is the route's 404 or 400, a name the
/// route does not declare a mistake in pingroll (500), never a silent default.
@Suite struct TypedParameterTests {
    @Test func pathAndQueryParametersAreReadAsTypesTheRouteDeclares() throws {
        var request = HTTPRequest(head: HTTPRequestHead(method: "GET", path: "/api/v1/jobs/7", query: [("interval", "week"), ("limit", "x")]))
        request.pathParameters = ["id": "7"]
        request.declaredQuery = ["interval", "limit"]
        #expect(try request.path("id", as: Int64.self, notFound: "no job") == 7)
        #expect(try request.query("interval", as: PeriodKind.self, default: .month) == .week)
        request.head.query = []
        #expect(try request.query("interval", as: PeriodKind.self, default: .month) == .month)
        request.head.query = [("interval", "fortnight")]
        do { _ = try request.query("interval", as: PeriodKind.self, default: .month); Issue.record("accepted") } catch {
            #expect(error.status == 400 && error.message.contains("day, week, month"), "\(error)")
        }
        request.pathParameters = ["id": "seven"]
        do { _ = try request.path("id", as: Int64.self, notFound: "there is no job seven"); Issue.record("accepted") } catch {
            #expect(error.status == 404 && error.message == "there is no job seven")
        }
        do { _ = try request.path("slug", as: String.self, notFound: ""); Issue.record("accepted") } catch { #expect(error.status == 500) }
        do { _ = try request.query("group_by", as: PeriodKind.self, default: .day); Issue.record("accepted") } catch { #expect(error.status == 500) }
    }
}

/// `/api/v1/annotations`: viewers read, pm adds and deletes manual ones, hostile input is 422.
@Suite struct AnnotationAPITests {
    @Test func aPMAddsListsAndDeletesAManualAnnotationAndBadOnesAreRefused() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let pm = try h.store.createToken(name: "p", role: .pm).text, viewer = try h.store.createToken(name: "v", role: .viewer).text
        func call(_ method: String, _ path: String, _ body: String? = nil, _ token: String, query: [(String, String)] = []) -> HTTPResponse {
            h.send(method, path, query: query, headers: [("Authorization", "Bearer \(token)")] + (body == nil ? [] : [("Content-Type", "application/json")]),
                   body: Array((body ?? "").utf8))
        }
        let added = call("POST", "/api/v1/annotations", #"{"at":"2026-11-02T09:00:00Z","text":"beta announced","metric":"container_registry_server.db_enabled"}"#, pm)
        #expect(added.status == 201 && added.json?["kind"] as? String == "manual" && added.json?["auto"] as? Bool == false, "\(added.text)")
        let id = try #require(added.json?["id"] as? Int)
        let range = [("from", "2026-11-01"), ("to", "2026-11-30")]
        let listed = call("GET", "/api/v1/annotations", nil, viewer, query: range + [("metric", "container_registry_server.db_enabled")])
        #expect((listed.json?["annotations"] as? [[String: Any]])?.map { $0["text"] as? String } == ["beta announced"], "\(listed.text)")
        #expect((call("GET", "/api/v1/annotations", nil, viewer, query: range + [("metric", "active_user_count")]).json?["annotations"] as? [Any])?.isEmpty == true)
        for (body, field) in [(#"{"at":"yesterday","text":"x"}"#, "at"), (#"{"at":"2026-11-02T09:00:00Z","text":""}"#, "text"),
                              (#"{"at":"2026-11-02T09:00:00Z","text":"\#(String(repeating: "a", count: 501))"}"#, "text"),
                              (#"{"at":"2026-11-02T09:00:00Z","text":"x","metric":"nope"}"#, "metric"),
                              (#"{"at":"2026-11-02T09:00:00Z","text":"x","color":"red"}"#, "color")] {
            let r = call("POST", "/api/v1/annotations", body, pm)
            #expect(r.status == 422 && r.text.contains(field), "\(body): \(r.status) \(r.text)")
        }
        #expect(call("POST", "/api/v1/annotations", #"{"at":"2026-11-02T09:00:00Z","text":"x"}"#, viewer).status == 403)
        #expect(call("DELETE", "/api/v1/annotations/\(id)", nil, viewer).status == 403)
        #expect(call("DELETE", "/api/v1/annotations/\(id)", nil, pm).status == 200)
        #expect(call("DELETE", "/api/v1/annotations/\(id)", nil, pm).status == 404)
        try h.store.recordAnnotation(Annotation(at: .now(), kind: .release, text: "first ping from 17.9", metric: nil), key: "release:17.9")
        let own = try #require(try h.store.annotations(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: Int64.max / 2), metric: nil).first)
        #expect(call("DELETE", "/api/v1/annotations/\(own.id)", nil, pm).status == 409)
    }
}
