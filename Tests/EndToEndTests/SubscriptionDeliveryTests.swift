import Foundation
import Glibc
import Synchronization
import Testing
@testable import PingRollStore

/// Starts a fixture server that prints its port on its first line, and answers the port.
func startPrintingPort(_ process: Process) throws -> Int {
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    var line = [UInt8]()
    while let byte = try out.fileHandleForReading.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
    guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw CocoaError(.fileReadCorruptFile) }
    return port
}

/// Subscriptions delivered by `pingroll digest send` and by serve's own delivery thread to a
/// real webhook receiver (Tests/EndToEndTests/Fixtures/webhook-receiver.py), signed, bounded, once.
@Suite(.serialized) struct SubscriptionDeliveryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let secret = "a-webhook-secret-of-some-length"

    /// The receiver process, its port and what it recorded.
    final class Receiver {
        let process = Process()
        let log: URL
        let port: Int

        init(directory: URL) throws {
            log = directory.appendingPathComponent("receiver-\(UUID().uuidString).log")
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [SubscriptionDeliveryTests.root.appendingPathComponent("Tests/EndToEndTests/Fixtures/webhook-receiver.py").path, log.path,
                                 SubscriptionDeliveryTests.secret]
            port = try startPrintingPort(process)
        }

        // SIGKILL: the test process blocks SIGTERM, and its children inherit the mask.
        deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }

        var url: String { "http://127.0.0.1:\(port)" }

        var requests: [[String: Any]] {
            guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        func requests(_ path: String) -> [[String: Any]] { requests.filter { ($0["path"] as? String) == path } }
    }

    static func token(_ server: ServerProcess, _ role: String) throws -> String {
        let (status, output) = try server.runCommand(["token", "create", "--role", role, "--name", "\(role)-\(UUID().uuidString.prefix(8))"])
        #expect(status == 0)
        return String(output.split(separator: "\n").last ?? "")
    }

    static func subscribe(_ server: ServerProcess, _ pm: String, _ body: String) throws -> Int {
        let r = try server.client().request("POST", "/api/v1/subscriptions", headers: [("Authorization", "Bearer \(pm)"), ("Content-Type", "application/json")],
                                            body: Array(body.utf8))
        #expect(r.status == 201, "\(r.text)")
        return (r.json?["id"] as? Int) ?? -1
    }

    static func deliveries(_ server: ServerProcess, _ pm: String, _ id: Int) throws -> [[String: Any]] {
        try server.client().request("GET", "/api/v1/subscriptions/\(id)/deliveries", headers: [("Authorization", "Bearer \(pm)")]).json?["deliveries"] as? [[String: Any]] ?? []
    }

    @Test func digestSendSignsBoundsAndRecordsEachDeliveryAndSkipsWhatWasSent() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let receiver = try Receiver(directory: server.directory)
        for (uuid, day, on) in [("a", "2024-01-09", false), ("a", "2024-01-16", true), ("b", "2024-01-10", true), ("b", "2024-01-17", true)] {
            let body = #"{"uuid":"\#(uuid)","recorded_at":"\#(day)T10:00:00Z","version":"16.6.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(on)}}"#
            #expect(try server.client().postJSON("/usage_data", body).status == 201)
        }
        let pm = try Self.token(server, "pm")
        var ids: [String: Int] = [:]
        for path in ["/ok", "/fail", "/redirect", "/huge", "/slow"] {
            ids[path] = try Self.subscribe(server, pm, #"{"kind":"digest","channel":"webhook","target":"\#(receiver.url)\#(path)","secret":"\#(Self.secret)"}"#)
        }
        // Schedules are far off (Monday 08:00): only the command sends. Ingest goes on meanwhile.
        let started = Date()
        let pingerDone = DispatchSemaphore(value: 0)
        let pinger = Thread {
            defer { pingerDone.signal() }
            for i in 0..<20 {
                let t = Date()
                let status = (try? server.client().postJSON("/usage_data", Pings.make(uuid: "during-\(i)")).status) ?? 0
                if status != 201 || Date().timeIntervalSince(t) > 1 { Issue.record("a ping during the deliveries: \(status) after \(Date().timeIntervalSince(t)) s") }
                Thread.sleep(forTimeInterval: 0.3)
            }
        }
        pinger.start()
        let (status, output) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15"])
        #expect(status == 0, "\(output)")
        #expect(Date().timeIntervalSince(started) < 40, "the slow receiver is given 10 s, no more")
        #expect(output.contains("subscription \(ids["/ok"]!) (webhook \(receiver.url)/ok): delivered"), "\(output)")
        #expect(output.contains("answered 500") && output.contains("answered 302") && output.contains("no answer within 10 s"), "\(output)")
        #expect(output.contains("subscription \(ids["/huge"]!) (webhook \(receiver.url)/huge): delivered"), "a gigabyte answer is read no further than 16 KiB: \(output)")
        let ok = receiver.requests("/ok")
        #expect(ok.count == 1 && ok.first?["signature_ok"] as? Bool == true && ok.first?["type"] as? String == "digest", "\(ok)")
        let recorded = try Self.deliveries(server, pm, ids["/ok"]!)
        #expect(recorded.count == 1 && recorded.first?["state"] as? String == "delivered" && recorded.first?["delivery_id"] as? String == ok.first?["delivery"] as? String)
        let failed = try #require(try Self.deliveries(server, pm, ids["/redirect"]!).first)
        #expect(failed["state"] as? String == "pending" && failed["attempts"] as? Int == 1 && (failed["last_error"] as? String)?.contains("302") == true, "\(failed)")
        #expect(receiver.requests("/ok").count == 1, "the redirect was not followed")

        // Again: the week was delivered, so it is skipped; --resend sends it on purpose, with a new id.
        let (_, again) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15", "--subscription", "\(ids["/ok"]!)"])
        #expect(again.contains("skipped") && receiver.requests("/ok").count == 1, "\(again)")
        let (_, resent) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15", "--subscription", "\(ids["/ok"]!)", "--resend"])
        #expect(resent.contains("delivered") && receiver.requests("/ok").count == 2, "\(resent)")
        #expect(Set(receiver.requests("/ok").compactMap { $0["delivery"] as? String }).count == 2)
        let (dry, printed) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15", "--dry-run", "--subscription", "\(ids["/ok"]!)"])
        #expect(dry == 0 && printed.contains("\"previous_period\" : \"2024-01-08\"") && receiver.requests("/ok").count == 2, "\(printed)")
        pingerDone.wait()
        // The key that sealed the secret sits beside the database, readable by its owner only.
        var info = stat()
        #expect(stat(server.directory.appendingPathComponent("pingroll-secrets.key").path, &info) == 0 && info.st_mode & 0o077 == 0)
    }

    /// `kill -9` of the sender after the receiver got the digest and before it was recorded: the
    /// delivery stays claimed; once the lease ran out it is sent again, with the same delivery id.
    @Test func aSenderKilledBetweenSendingAndRecordingResendsOnceWithTheSameID() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let receiver = try Receiver(directory: server.directory)
        let pm = try Self.token(server, "pm")
        let id = try Self.subscribe(server, pm, #"{"kind":"digest","channel":"webhook","target":"\#(receiver.url)/hold","secret":"\#(Self.secret)"}"#)
        let sender = Process()
        sender.executableURL = ServerProcess.binary
        sender.arguments = ["digest", "send", "--period", "week:2024-01-15", "--database", server.databasePath]
        sender.standardOutput = FileHandle.nullDevice
        sender.standardError = FileHandle.nullDevice
        try sender.run()
        let deadline = Date().addingTimeInterval(20)
        while receiver.requests("/hold").isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        kill(sender.processIdentifier, SIGKILL)
        sender.waitUntilExit()
        let first = try #require(receiver.requests("/hold").first)
        var recorded = try #require(try Self.deliveries(server, pm, id).first)
        #expect(recorded["state"] as? String == "sending", "claimed, never marked: \(recorded)")
        // Nobody may send it while the lease holds...
        let (_, waiting) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15"])
        #expect(waiting.contains("being sent by another collector") && receiver.requests("/hold").count == 1, "\(waiting)")
        // ...and once it ran out (moved back here instead of waiting a minute), it goes again, same id.
        let connection = try SQLiteConnection(path: server.databasePath)
        try connection.execute("UPDATE deliveries SET lease_until = lease_until - 120000", operation: "test")
        connection.close()
        let (_, resent) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15"])
        #expect(resent.contains("delivered"), "\(resent)")
        let all = receiver.requests("/hold")
        #expect(all.count == 2 && all.allSatisfy { $0["delivery"] as? String == first["delivery"] as? String }, "\(all)")
        recorded = try #require(try Self.deliveries(server, pm, id).first)
        #expect(recorded["state"] as? String == "delivered" && recorded["attempts"] as? Int == 2)
    }

    @Test func serveSendsADigestWhenItsScheduleComesOnce() throws {
        let server = try ServerProcess(environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.2"])
        defer { server.cleanUp() }
        let receiver = try Receiver(directory: server.directory)
        let pm = try Self.token(server, "pm")
        // This hour of today: the moment has come, but before the subscription was made, so it
        // waits for next week...
        let now = Int(Date().timeIntervalSince1970)
        let weekday = (now / 86_400 + 3) % 7 + 1, hour = (now % 86_400) / 3_600
        let id = try Self.subscribe(server, pm, #"{"kind":"digest","channel":"webhook","target":"\#(receiver.url)/ok-serve","secret":"\#(Self.secret)","schedule":{"weekday":\#(weekday),"hour":\#(hour)}}"#)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(receiver.requests("/ok-serve").isEmpty, "a new subscription is not sent last week's digest at once")
        // ...unless it was made before it: back-dated a week, it is due now.
        let connection = try SQLiteConnection(path: server.databasePath)
        try connection.execute("UPDATE subscriptions SET created_at = created_at - 604800000", operation: "test")
        connection.close()
        let deadline = Date().addingTimeInterval(20)
        while receiver.requests("/ok-serve").isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(receiver.requests("/ok-serve").count == 1, "\(receiver.requests)")
        #expect(try Self.deliveries(server, pm, id).map { $0["state"] as? String } == ["delivered"])
    }
}

/// Two collectors on one PostgreSQL database, both running their delivery thread, and two
/// `digest send` commands at once: each digest reaches the receiver once.
@Suite(.serialized, .enabled(if: postgresURL != nil, "needs PINGROLL_TEST_POSTGRES_URL (scripts/test.sh starts a server)"))
struct SubscriptionDeliveryPostgresTests {
    @Test func twoCollectorsAndTwoCommandsDeliverEachDigestOnce() throws {
        let schema = try PostgresEndToEndTests.Schema()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-pg-notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Every collector of one database shares the key that seals the webhook secrets.
        let key = directory.appendingPathComponent("secrets.key").path
        FileManager.default.createFile(atPath: key, contents: Data((String(repeating: "ab", count: 32) + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let options = ["--secrets-key-file", key]
        let a = try ServerProcess(arguments: options, database: schema.url, environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.05"])
        defer { a.cleanUp() }
        let b = try ServerProcess(arguments: options, database: schema.url, environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.05"])
        defer { b.cleanUp() }
        let receiver = try SubscriptionDeliveryTests.Receiver(directory: directory)
        let pm = try SubscriptionDeliveryTests.token(a, "pm")
        let now = Int(Date().timeIntervalSince1970)
        let weekday = (now / 86_400 + 3) % 7 + 1, hour = (now % 86_400) / 3_600
        var ids: [Int] = []
        for n in 0..<5 {
            ids.append(try SubscriptionDeliveryTests.subscribe(a, pm, #"{"kind":"digest","channel":"webhook","target":"\#(receiver.url)/ok-\#(n)","secret":"\#(SubscriptionDeliveryTests.secret)","schedule":{"weekday":\#(weekday),"hour":\#(hour)}}"#))
        }
        // Two commands at once for one week...
        let group = DispatchGroup()
        let url = schema.url
        let outputs = Mutex<[String]>([])
        for _ in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                let r = try? ServerProcess.run(["digest", "send", "--database", url, "--period", "week:2024-01-15"] + options)
                outputs.withLock { $0.append(r?.1 ?? "did not run") }
            }.start()
        }
        group.wait()
        // ...and both collectors' threads at once for the latest complete week (back-dated
        // subscriptions: their schedule moment came after they were made).
        try PostgresEndToEndTests.Schema.admin("UPDATE \(schema.name).subscriptions SET created_at = created_at - 604800000")
        let deadline = Date().addingTimeInterval(30)
        while receiver.requests.count < 10 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        Thread.sleep(forTimeInterval: 2)
        let requests = receiver.requests
        for n in 0..<5 {
            let mine = requests.filter { $0["path"] as? String == "/ok-\(n)" }
            #expect(mine.count == 2, "one digest of 2024-01-15 and one of the latest week: \(mine)")
            #expect(Set(mine.compactMap { $0["delivery"] as? String }).count == 2 && mine.allSatisfy { $0["signature_ok"] as? Bool == true })
        }
        for id in ids {
            let states = try SubscriptionDeliveryTests.deliveries(a, pm, id).compactMap { $0["state"] as? String }
            #expect(states == ["delivered", "delivered"], "\(states)")
        }
        #expect(outputs.withLock { $0.joined() }.components(separatedBy: "delivered (delivery").count - 1 == 5, "\(outputs.withLock { $0 })")
    }
}

/// An alert rule evaluated by `pingroll alerts evaluate --at`: firing once, resolved once.
@Suite struct AlertEvaluationTests {
    @Test func aShareDropFiresOnceAndResolvesOnceWithItsStateShown() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let receiver = try SubscriptionDeliveryTests.Receiver(directory: server.directory)
        // 40 installations: 32 on in the week of 2024-01-08, 12 in the next, 32 again in the third.
        for i in 0..<40 {
            for (day, on) in [("2024-01-09", i < 32), ("2024-01-16", i < 12), ("2024-01-23", i < 32)] {
                let body = #"{"uuid":"i\#(i)","recorded_at":"\#(day)T10:00:00Z","version":"16.6.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(on)}}"#
                #expect(try server.client().postJSON("/usage_data", body).status == 201)
            }
        }
        let pm = try SubscriptionDeliveryTests.token(server, "pm")
        let id = try SubscriptionDeliveryTests.subscribe(server, pm, #"{"kind":"alert","channel":"webhook","target":"\#(receiver.url)/ok-alert","secret":"\#(SubscriptionDeliveryTests.secret)","rule":{"metric":"container_registry_server.db_enabled","condition":"share_drop","threshold":5,"min_count":30}}"#)
        func evaluate(_ at: String) throws -> String {
            let (status, output) = try server.runCommand(["alerts", "evaluate", "--at", at])
            #expect(status == 0, "\(output)")
            return output
        }
        #expect(try evaluate("2024-01-17T12:00:00Z").contains("no alert changed"), "the week of the 8th against the 1st: nothing before")
        let fired = try evaluate("2024-01-24T12:00:00Z")
        #expect(fired.contains("firing for all in the week of 2024-01-15") && fired.contains("down 50.0 points"), "\(fired)")
        #expect(try evaluate("2024-01-24T18:00:00Z").contains("no alert changed"), "evaluated again: nothing twice")
        let state = try server.client().request("GET", "/api/v1/subscriptions/\(id)", headers: [("Authorization", "Bearer \(pm)")]).json?["alert_state"] as? [[String: Any]]
        #expect(state?.first?["state"] as? String == "firing" && state?.first?["period"] as? String == "2024-01-15", "\(state ?? [])")
        let resolved = try evaluate("2024-01-31T12:00:00Z")
        #expect(resolved.contains("resolved for all in the week of 2024-01-22"), "\(resolved)")
        #expect(try evaluate("2024-01-17T12:00:00Z").contains("no alert changed"), "never back in time")
        let requests = receiver.requests("/ok-alert")
        #expect(requests.count == 2 && requests.allSatisfy { $0["signature_ok"] as? Bool == true && $0["type"] as? String == "alert" }, "\(requests)")
    }
}
