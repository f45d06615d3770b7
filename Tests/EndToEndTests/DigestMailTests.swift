import Foundation
import Glibc
import Testing
@testable import PingRollStore

let smtpPython = ProcessInfo.processInfo.environment["PINGROLL_SMTP_PYTHON"]

/// Digests mailed by `pingroll digest send` through a real SMTP server (aiosmtpd,
/// Tests/EndToEndTests/Fixtures/smtp-sink.py) with AUTH.
@Suite(.serialized, .enabled(if: smtpPython != nil, "needs PINGROLL_SMTP_PYTHON (scripts/test.sh sets up aiosmtpd)"))
struct DigestMailTests {
    final class Sink {
        let process = Process()
        let directory: URL
        let port: Int

        init(directory: URL, arguments: [String]) throws {
            self.directory = directory.appendingPathComponent("mail-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            process.executableURL = URL(fileURLWithPath: smtpPython!)
            process.arguments = [SubscriptionDeliveryTests.root.appendingPathComponent("Tests/EndToEndTests/Fixtures/smtp-sink.py").path, self.directory.path] + arguments
            port = try startPrintingPort(process)
        }

        deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }

        func message(_ n: Int) -> String? { try? String(contentsOf: directory.appendingPathComponent("\(n).eml"), encoding: .utf8) }
        func envelope(_ n: Int) -> [String: Any]? {
            (try? Data(contentsOf: directory.appendingPathComponent("\(n).json"))).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
    }

    @Test func aDigestIsMailedAsTextAndHTMLWithAuthAndTheCredentialsStayPrivate() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let sink = try Sink(directory: server.directory, arguments: ["auth", "digest-user:pa55-w0rd"])
        for (uuid, day, on) in [("a", "2024-01-09", false), ("a", "2024-01-16", true), ("b", "2024-01-17", true)] {
            let body = #"{"uuid":"\#(uuid)","hostname":"\#(uuid).example.com","recorded_at":"\#(day)T10:00:00Z","version":"16.6.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(on)}}"#
            #expect(try server.client().postJSON("/usage_data", body).status == 201)
        }
        let pm = try SubscriptionDeliveryTests.token(server, "pm")
        let id = try SubscriptionDeliveryTests.subscribe(server, pm, #"{"kind":"digest","channel":"email","target":"pm@example.com"}"#)
        let credentials = server.directory.appendingPathComponent("smtp-credentials")
        FileManager.default.createFile(atPath: credentials.path, contents: Data("digest-user:pa55-w0rd\n".utf8), attributes: [.posixPermissions: 0o600])
        let smtp = ["--smtp-url", "smtp://127.0.0.1:\(sink.port)", "--smtp-from", "pingroll@example.com", "--smtp-credentials", credentials.path,
                    "--public-url", "https://pingroll.example.com"]
        let (status, output) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15"] + smtp)
        #expect(status == 0 && output.contains("subscription \(id) (email pm@example.com): delivered"), "\(output)")
        #expect(!output.contains("pa55-w0rd"))
        let mail = try #require(sink.message(1), "the sink got the message")
        #expect(sink.envelope(1)?["to"] as? [String] == ["pm@example.com"] && sink.envelope(1)?["from"] as? String == "pingroll@example.com")
        #expect(mail.contains("Content-Type: multipart/alternative") && mail.contains("Content-Type: text/plain") && mail.contains("Content-Type: text/html"), "\(mail)")
        #expect(mail.contains("Subject: pingroll digest, week of 2024-01-15") && mail.contains("To: pm@example.com"))
        let deliveryID = try #require(try SubscriptionDeliveryTests.deliveries(server, pm, id).first?["delivery_id"] as? String)
        #expect(mail.contains("Message-ID: <\(deliveryID)@example.com>") && mail.contains("X-Pingroll-Delivery: \(deliveryID)"))
        #expect(mail.contains("a.example.com") && mail.contains("1 adopted"), "a pm's digest names the adopter: \(mail)")
        #expect(mail.contains("https://pingroll.example.com/?dashboard=registry-metadata-db") && !mail.lowercased().contains("<script") && !mail.contains("<img"))

        // Credentials others may read are refused; a wrong password and a required STARTTLS the
        // server does not offer are failed deliveries, retried later.
        chmod(credentials.path, 0o644)
        let (open, refused) = try server.runCommand(["digest", "send", "--period", "week:2024-01-08"] + smtp)
        #expect(open != 0 && refused.contains("chmod 600"), "\(refused)")
        FileManager.default.createFile(atPath: credentials.path, contents: Data("digest-user:wrong\n".utf8), attributes: [.posixPermissions: 0o600])
        let (_, denied) = try server.runCommand(["digest", "send", "--period", "week:2024-01-08"] + smtp)
        #expect(denied.contains("failed: SMTP") && denied.contains("serve retries at") && !denied.contains("wrong"), "\(denied)")
        let (_, plain) = try server.runCommand(["digest", "send", "--period", "week:2024-01-01", "--smtp-starttls", "require"] + smtp)
        #expect(plain.contains("failed: SMTP"), "\(plain)")
        #expect(sink.message(2) == nil, "nothing else was accepted")
    }

    static func seeded() throws -> (ServerProcess, pm: String, id: Int) {
        let server = try ServerProcess(environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.2"])
        let body = #"{"uuid":"a","recorded_at":"2024-01-16T10:00:00Z","version":"16.6.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":true}}"#
        #expect(try server.client().postJSON("/usage_data", body).status == 201)
        let pm = try SubscriptionDeliveryTests.token(server, "pm")
        let id = try SubscriptionDeliveryTests.subscribe(server, pm, #"{"kind":"digest","channel":"email","target":"pm@example.com"}"#)
        return (server, pm, id)
    }

    @Test func starttlsIsUsedAndItsCertificateChecked() throws {
        let (server, _, id) = try Self.seeded()
        defer { server.cleanUp() }
        let cert = server.directory.appendingPathComponent("smtp.pem").path, key = server.directory.appendingPathComponent("smtp.key").path
        let made = try ServerProcess.runTool("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                                                                  "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        #expect(made.0 == 0, "\(made.1)")
        let sink = try Sink(directory: server.directory, arguments: ["tls", cert, key])
        let smtp = ["--smtp-url", "smtp://127.0.0.1:\(sink.port)", "--smtp-from", "pingroll@example.com", "--smtp-starttls", "require", "--smtp-timeout", "10"]
        // An unknown certificate authority: refused, nothing sent.
        let (_, untrusted) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15"] + smtp)
        #expect(untrusted.contains("failed: SMTP") && sink.message(1) == nil, "\(untrusted)")
        let (_, trusted) = try server.runCommand(["digest", "send", "--period", "week:2024-01-08", "--smtp-ca-file", cert] + smtp)
        #expect(trusted.contains("subscription \(id) (email pm@example.com): delivered") && sink.message(1) != nil, "\(trusted)")
    }

    @Test func hostileSMTPServersAreFailedDeliveriesAndServeKeepsIngesting() throws {
        let (server, pm, id) = try Self.seeded()
        defer { server.cleanUp() }
        for mode in ["stall", "reject", "cut"] {
            let hostile = try Sink(directory: server.directory, arguments: [mode])
            let started = Date()
            let (status, output) = try server.runCommand(["digest", "send", "--period", "week:2024-01-15", "--resend", "--smtp-url", "smtp://127.0.0.1:\(hostile.port)",
                                                          "--smtp-from", "pingroll@example.com", "--smtp-timeout", "2"])
            #expect(status == 0 && output.contains("failed: SMTP"), "\(mode): \(output)")
            #expect(Date().timeIntervalSince(started) < 15, "\(mode): bounded by --smtp-timeout")
        }
        let failures = try SubscriptionDeliveryTests.deliveries(server, pm, id).compactMap { $0["last_error"] as? String }
        #expect(failures.count == 3, "\(failures)")
        // serve itself mailing to a server that stalls: its delivery thread waits, ingest does not.
        let stall = try Sink(directory: server.directory, arguments: ["stall"])
        let serving = try ServerProcess(arguments: ["--smtp-url", "smtp://127.0.0.1:\(stall.port)", "--smtp-from", "pingroll@example.com", "--smtp-timeout", "3"],
                                        environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.2"])
        defer { serving.cleanUp() }
        let servingPM = try SubscriptionDeliveryTests.token(serving, "pm")
        let servingID = try SubscriptionDeliveryTests.subscribe(serving, servingPM, #"{"kind":"digest","channel":"email","target":"pm@example.com","schedule":{"weekday":1,"hour":0}}"#)
        let connection = try SQLiteConnection(path: serving.databasePath)
        try connection.execute("UPDATE subscriptions SET created_at = created_at - 604800000", operation: "test")
        connection.close()
        var slowest = 0.0
        for i in 0..<25 {
            let t = Date()
            #expect(try serving.client().postJSON("/usage_data", Pings.make(uuid: "meanwhile-\(i)")).status == 201)
            slowest = max(slowest, Date().timeIntervalSince(t))
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(slowest < 1, "a ping waited \(slowest) s")
        let latest = try SubscriptionDeliveryTests.deliveries(serving, servingPM, servingID).first
        #expect((latest?["last_error"] as? String)?.hasPrefix("SMTP:") == true && latest?["state"] as? String == "pending", "\(latest ?? [:])")
    }
}


/// On PostgreSQL: two collectors starting at once both evaluate an alert rule that holds; the
/// webhook receiver and the SMTP server each get its notification once.
@Suite(.serialized, .enabled(if: smtpPython != nil && postgresURL != nil, "needs PINGROLL_SMTP_PYTHON and PINGROLL_TEST_POSTGRES_URL (scripts/test.sh)"))
struct AlertTwoCollectorsTests {
    @Test func twoCollectorsEvaluatingAtOnceNotifyOnceByWebhookAndMail() throws {
        let schema = try PostgresEndToEndTests.Schema()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-pg-alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("secrets.key").path
        FileManager.default.createFile(atPath: key, contents: Data((String(repeating: "cd", count: 32) + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let receiver = try SubscriptionDeliveryTests.Receiver(directory: directory)
        let sink = try DigestMailTests.Sink(directory: directory, arguments: [])
        // The latest complete week (ended two days ago or more) and the one before.
        let day = Int64(Date().timeIntervalSince1970 / 86_400)
        var week = day - ((day + 3) % 7)
        while week + 9 > day { week -= 7 }
        let setup = try ServerProcess(arguments: ["--secrets-key-file", key], database: schema.url)
        for i in 0..<40 {
            for (start, on) in [(week - 7, i < 32), (week, i < 12)] {
                let body = #"{"uuid":"p\#(i)","recorded_at":"\#(isoDateText(start + 1))T10:00:00Z","version":"16.6.0-ee","container_registry_enabled":true,"container_registry_server":{"vendor":"gitlab","db_enabled":\#(on)}}"#
                #expect(try setup.client().postJSON("/usage_data", body).status == 201)
            }
        }
        let pm = try SubscriptionDeliveryTests.token(setup, "pm")
        let rule = #""rule":{"metric":"container_registry_server.db_enabled","condition":"share_below","threshold":0.5,"min_count":30}"#
        let hook = try SubscriptionDeliveryTests.subscribe(setup, pm, #"{"kind":"alert","channel":"webhook","target":"\#(receiver.url)/ok-alert","secret":"\#(SubscriptionDeliveryTests.secret)",\#(rule)}"#)
        let mail = try SubscriptionDeliveryTests.subscribe(setup, pm, #"{"kind":"alert","channel":"email","target":"oncall@example.com",\#(rule)}"#)
        setup.cleanUp()
        let options = ["--secrets-key-file", key, "--smtp-url", "smtp://127.0.0.1:\(sink.port)", "--smtp-from", "pingroll@example.com"]
        let a = try ServerProcess(arguments: options, database: schema.url, environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.05"])
        defer { a.cleanUp() }
        let b = try ServerProcess(arguments: options, database: schema.url, environment: ["PINGROLL_DELIVERY_CHECK_SECONDS": "0.05"])
        defer { b.cleanUp() }
        let deadline = Date().addingTimeInterval(20)
        while (receiver.requests("/ok-alert").isEmpty || sink.message(1) == nil) && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        Thread.sleep(forTimeInterval: 2)
        #expect(receiver.requests("/ok-alert").count == 1, "\(receiver.requests)")
        #expect(sink.message(1)?.contains("Subject: pingroll alert firing: container_registry_server.db_enabled (all)") == true && sink.message(2) == nil)
        for id in [hook, mail] {
            #expect(try SubscriptionDeliveryTests.deliveries(a, pm, id).map { $0["state"] as? String } == ["delivered"])
        }
    }
}

func isoDateText(_ day: Int64) -> String {
    let date = Date(timeIntervalSince1970: Double(day) * 86_400)
    let f = DateFormatter()
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    return f.string(from: date)
}
