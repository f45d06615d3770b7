import Foundation
import Glibc
import Testing

let smtpPython = ProcessInfo.processInfo.environment["PINGROLL_SMTP_PYTHON"]

/// Digests mailed by `pingroll digest send` through a real SMTP server (aiosmtpd,
/// Tests/EndToEndTests/Fixtures/smtp-sink.py) with AUTH.
@Suite(.serialized, .enabled(if: smtpPython != nil, "needs PINGROLL_SMTP_PYTHON (scripts/test.sh sets up aiosmtpd)"))
struct DigestMailTests {
    final class Sink {
        let process = Process()
        let directory: URL
        let port: Int

        init(directory: URL, credentials: String) throws {
            self.directory = directory.appendingPathComponent("mail-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            process.executableURL = URL(fileURLWithPath: smtpPython!)
            process.arguments = [SubscriptionDeliveryTests.root.appendingPathComponent("Tests/EndToEndTests/Fixtures/smtp-sink.py").path, self.directory.path,
                                 "auth", credentials]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            var line = [UInt8]()
            while let byte = try out.fileHandleForReading.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
            guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw CocoaError(.fileReadCorruptFile) }
            self.port = port
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
        let sink = try Sink(directory: server.directory, credentials: "digest-user:pa55-w0rd")
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
}
