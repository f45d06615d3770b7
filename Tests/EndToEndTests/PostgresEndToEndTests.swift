import Foundation
import Glibc
import Synchronization
import Testing
import PingRollCore
@testable import PingRollStore

let postgresURL = ProcessInfo.processInfo.environment["PINGROLL_TEST_POSTGRES_URL"]

/// `pingroll serve` processes on a real PostgreSQL (the throwaway server scripts/test.sh starts).
@Suite(.serialized, .enabled(if: postgresURL != nil, "needs PINGROLL_TEST_POSTGRES_URL (scripts/test.sh starts a server)"))
struct PostgresEndToEndTests {
    /// A schema of its own, seen through the URL's search_path; dropped at the end.
    final class Schema {
        let name = "e2e_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        var url: String { postgresURL! + "&options=-csearch_path%3D\(name)" }

        init() throws { try Self.admin("CREATE SCHEMA \(name)") }
        deinit { try? Self.admin("DROP SCHEMA \(name) CASCADE") }

        static func admin(_ sql: String) throws {
            let conn = try PostgresConnection(url: postgresURL!)
            defer { conn.close() }
            try conn.execute(sql, operation: "test setup")
        }

        func store() throws -> PostgresStore { try PostgresStore(url: url, poolSize: 1) }
    }

    @Test func serveOnPostgresAnswersAndDedupesLikeOnSQLite() throws {
        let schema = try Schema()
        let server = try ServerProcess(database: schema.url)
        defer { server.cleanUp() }
        let http = server.client()
        let first = try http.postJSON("/usage_data", Pings.make(uuid: "pg-1", recordedAt: "2024-01-15T10:00:00Z"))
        let again = try http.postJSON("/usage_data", Pings.make(uuid: "pg-1", recordedAt: "2024-01-15T11:00:00+01:00"))
        #expect(first.status == 201 && again.status == 201 && first.usageDataID == again.usageDataID)
        #expect(try http.postJSON("/usage_data", "{oops").status == 400)
        #expect(try http.request("GET", "/readyz").status == 200)
        let store = try schema.store()
        defer { store.close() }
        #expect(try store.statistics().pings == 1 && store.statistics().quarantined == 1)
    }

    @Test func twoCollectorsOnOneDatabaseKeepRollupsExactAndDedupeAcrossProcesses() throws {
        let schema = try Schema()
        // Migrate once up front, as an operator would before starting several collectors.
        let migrate = try ServerProcess.run(["migrate", "--database", schema.url])
        #expect(migrate.0 == 0, "\(migrate.1)")
        let a = try ServerProcess(database: schema.url)
        let b = try ServerProcess(database: schema.url)
        defer { a.cleanUp(); b.cleanUp() }

        // 30 installations, 6 weekly pings each, across a year end; a third posted to both collectors at once.
        var pings: [(key: String, body: String, both: Bool)] = []
        for inst in 0..<30 {
            for week in 0..<6 {
                let day = 20 + week * 7 + inst % 7   // December 20 onwards
                let date = Calendar(identifier: .gregorian).date(from: DateComponents(timeZone: TimeZone(identifier: "UTC"), year: 2024, month: 12, day: day, hour: inst % 24))!
                let stamp = ISO8601DateFormatter().string(from: date)
                pings.append((key: "\(inst)|\(stamp)", body: Pings.make(uuid: "multi-\(inst)", recordedAt: stamp, approximateBytes: 3_000),
                              both: (inst + week) % 3 == 0))
            }
        }
        pings.shuffle()
        let stream = pings
        let ids = Mutex<[String: Set<Int>]>([:])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: stream.count) { i in
            let ping = stream[i]
            let targets = ping.both ? [a, b] : [i % 2 == 0 ? a : b]
            DispatchQueue.concurrentPerform(iterations: targets.count) { t in
                do {
                    let r = try targets[t].client().postJSON("/usage_data", ping.body)
                    guard r.status == 201, let id = r.usageDataID else { throw ServerError(message: "status \(r.status): \(r.text)") }
                    ids.withLock { _ = $0[ping.key, default: []].insert(id) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        let seen = ids.withLock { $0 }
        #expect(seen.count == pings.count)
        #expect(seen.values.allSatisfy { $0.count == 1 }, "a ping posted to both collectors got two ids")
        let store = try schema.store()
        defer { store.close() }
        #expect(try store.statistics().pings == Int64(pings.count))
        let (status, output) = try ServerProcess.run(["rollup", "verify", "--database", schema.url])
        #expect(status == 0, "\(output)")
        #expect(output.contains("0 differences"))
    }

    @Test func aPostgresRestartMidLoadLosesNoAcknowledgedPingAndNeedsNoRestart() throws {
        let env = ProcessInfo.processInfo.environment
        guard let pgctl = env["PINGROLL_TEST_PGCTL"], let pgdata = env["PINGROLL_TEST_PGDATA"] else {
            Issue.record("PINGROLL_TEST_PGCTL and PINGROLL_TEST_PGDATA are needed to restart the server")
            return
        }
        let schema = try Schema()
        let server = try ServerProcess(database: schema.url)
        defer { server.cleanUp() }
        let acknowledged = Mutex<[Int]>([])
        let statuses = Mutex<[Int: Int]>([:])
        let stop = Atomic<Bool>(false)
        let counter = Atomic<Int>(0)
        let load = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: load) {
                while !stop.load(ordering: .relaxed) {
                    let n = counter.add(1, ordering: .relaxed).newValue
                    let r = try? server.client().postJSON("/usage_data", Pings.make(uuid: "restart-\(n)", approximateBytes: 2_000))
                    let status = r?.status ?? -1
                    statuses.withLock { $0[status, default: 0] += 1 }
                    if status == 201, let id = r?.usageDataID { acknowledged.withLock { $0.append(id) } }
                    if status != 201 { usleep(20_000) }
                }
            }
        }
        usleep(1_000_000)
        #expect(pgControl(pgctl, pgdata, ["-m", "fast", "-w", "stop"]) == 0)
        usleep(1_500_000)
        #expect(pgControl(pgctl, pgdata, ["-w", "-l", pgdata + "/../server.log", "start"]) == 0)
        usleep(1_500_000)
        stop.store(true, ordering: .relaxed)
        load.wait()

        let counts = statuses.withLock { $0 }
        #expect(Set(counts.keys).isSubset(of: [201, 503]), "every answer is 201 or 503: \(counts)")
        #expect((counts[503] ?? 0) > 0, "the outage was seen: \(counts)")
        #expect((counts[201] ?? 0) > 0)
        // Recovered without a restart of pingroll.
        #expect(try server.client().request("GET", "/readyz").status == 200)
        #expect(try server.client().postJSON("/usage_data", Pings.make(uuid: "after-restart")).status == 201)
        let store = try schema.store()
        defer { store.close() }
        let ids = acknowledged.withLock { $0 }
        for id in ids { #expect(try store.ping(id: Int64(id)) != nil, "acknowledged ping \(id) is stored") }
        #expect(try store.statistics().pings == Int64(Set(ids).count) + 1)
    }

    /// Runs pg_ctl as the postgres user with posix_spawn and waitpid: pg_ctl start leaves a
    /// daemon behind, which Foundation's Process can mistake for the child still running.
    func pgControl(_ pgctl: String, _ pgdata: String, _ arguments: [String]) -> Int32 {
        let argv = ["/usr/sbin/runuser", "-u", "postgres", "--", pgctl, "-D", pgdata] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xFF
    }
}
