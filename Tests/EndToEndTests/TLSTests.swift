import Foundation
import Glibc
import Synchronization
import Testing

/// HTTPS served by pingroll itself, as an organisation's own `version.gitlab.com` would be:
/// certificates made by the test with openssl, requests made with curl.
@Suite struct TLSTests {
    /// A throwaway CA and server certificates it signs, in a temporary directory.
    final class Certificates: Sendable {
        let directory: URL
        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pingroll test CA"])
            _ = FileManager.default.createFile(atPath: path("ext.cnf"), contents: Data("subjectAltName=DNS:version.gitlab.com,IP:127.0.0.1\n".utf8))
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        /// Makes `NAME.pem` and `NAME.key`, a certificate for version.gitlab.com and 127.0.0.1 with the given CN.
        func issue(_ name: String, commonName: String) throws {
            try run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(commonName)"])
            try run("openssl", ["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).pem",
                                "-days", "2", "-extfile", "ext.cnf"])
        }

        @discardableResult
        func run(_ tool: String, _ arguments: [String], stdin: String? = nil) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/\(tool)")
            p.arguments = arguments
            p.currentDirectoryURL = directory
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            let input = Pipe()
            p.standardInput = input
            try p.run()
            if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
            try? input.fileHandleForWriting.close()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    static func port(_ scheme: String, in log: String) -> UInt16? {
        guard let range = log.range(of: "listening on \(scheme)://127.0.0.1:") else { return nil }
        return UInt16(log[range.upperBound...].prefix { $0.isNumber })
    }

    static func ping(_ uuid: String, padding: Int = 0) -> String {
        #"{"uuid":"\#(uuid)","hostname":"h","recorded_at":"2025-01-06T10:00:00Z","version":"16.5.1","pad":"\#(String(repeating: "x", count: padding))"}"#
    }

    /// curl against the HTTPS port as GitLab would reach version.gitlab.com on a network that resolves it to pingroll.
    func postHTTPS(_ certs: Certificates, port: UInt16, _ body: String, extra: [String] = []) throws -> (Int32, String) {
        try certs.run("curl", ["-sS", "--cacert", "ca.pem", "--resolve", "version.gitlab.com:\(port):127.0.0.1", "-X", "POST",
                               "-H", "Content-Type: application/json", "--data-binary", "@-", "-w", "\n%{http_code}",
                               "https://version.gitlab.com:\(port)/usage_data"] + extra, stdin: body)
    }

    func subject(_ certs: Certificates, port: UInt16) throws -> String {
        let (_, output) = try certs.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", "ca.pem"], stdin: "")
        return output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? output
    }

    func startServer(_ certs: Certificates) throws -> (ServerProcess, https: UInt16) {
        let server = try ServerProcess(arguments: ["--listen-http", "127.0.0.1:0", "--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key")])
        let deadline = Date().addingTimeInterval(10)
        while Self.port("https", in: server.log) == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return (server, try #require(Self.port("https", in: server.log), "\(server.log)"))
    }

    @Test func pingsArriveOverHTTPSAsVersionGitlabComAndOverPlainHTTPBesideIt() throws {
        let certs = try Certificates()
        try certs.issue("server", commonName: "version.gitlab.com")
        let (server, https) = try startServer(certs)
        defer { server.cleanUp() }
        let (status, output) = try postHTTPS(certs, port: https, Self.ping("over-tls"))
        #expect(status == 0 && output.hasSuffix("\n201") && output.contains("usage_data_id"), "\(output)")
        #expect(try server.client().postJSON("/usage_data", Self.ping("over-http")).status == 201)
        // Plain HTTP to the HTTPS port, garbage and a client that never finishes its handshake
        // do not hurt it.
        _ = try certs.run("curl", ["-sS", "-m", "3", "http://127.0.0.1:\(https)/healthz"])
        _ = try certs.run("openssl", ["s_client", "-connect", "127.0.0.1:\(https)", "-no_tls1_3", "-cipher", "NULL"], stdin: "")
        let (again, text) = try postHTTPS(certs, port: https, Self.ping("over-tls"))
        #expect(again == 0 && text.hasSuffix("\n201"), "a duplicate over HTTPS: \(text)")
        #expect(try server.runCommand(["rollup", "verify"]).1.contains("over 2 pings"))
        #expect(server.process.isRunning)
    }

    @Test func sighupReloadsTheCertificateWithoutDroppingAnUploadInFlight() throws {
        let certs = try Certificates()
        try certs.issue("server", commonName: "first")
        try certs.issue("renewed", commonName: "renewed")
        let (server, https) = try startServer(certs)
        defer { server.cleanUp() }
        #expect(try subject(certs, port: https).contains("CN = first"))
        // An upload trickling at 20 KB/s for ~2 s, across the reload.
        let slow = Mutex<(Int32, String)?>(nil)
        let uploader = Thread {
            let result = try? self.postHTTPS(certs, port: https, Self.ping("slow", padding: 40_000), extra: ["--limit-rate", "20k"])
            slow.withLock { $0 = result }
        }
        uploader.start()
        Thread.sleep(forTimeInterval: 0.5)
        try FileManager.default.removeItem(atPath: certs.path("server.pem"))
        try FileManager.default.removeItem(atPath: certs.path("server.key"))
        try FileManager.default.copyItem(atPath: certs.path("renewed.pem"), toPath: certs.path("server.pem"))
        try FileManager.default.copyItem(atPath: certs.path("renewed.key"), toPath: certs.path("server.key"))
        kill(server.process.processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while !server.log.contains("reloaded the TLS certificate") && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try subject(certs, port: https).contains("CN = renewed"), "new connections get the new certificate")
        while uploader.isExecuting { Thread.sleep(forTimeInterval: 0.05) }
        let result = try #require(slow.withLock { $0 })
        #expect(result.0 == 0 && result.1.hasSuffix("\n201"), "the upload begun before the reload completes: \(result.1)")

        // A broken replacement keeps the certificate in use.
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: certs.path("server.pem")))
        kill(server.process.processIdentifier, SIGHUP)
        while !server.log.contains("kept the old TLS certificate") && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(server.log.contains("kept the old TLS certificate"), "\(server.log.suffix(800))")
        #expect(try subject(certs, port: https).contains("CN = renewed"))
        #expect(try postHTTPS(certs, port: https, Self.ping("after")).1.hasSuffix("\n201"))
    }

    /// A client that connects to the HTTPS port and sends nothing, or starts a handshake and
    /// stalls, is cut off (head timeout, then the connection timeout) and holds nothing.
    @Test func silentAndStalledTLSClientsAreCutOff() throws {
        let certs = try Certificates()
        try certs.issue("server", commonName: "version.gitlab.com")
        let server = try ServerProcess(arguments: ["--listen-http", "127.0.0.1:0", "--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key"),
                                                   "--head-timeout", "0.5", "--connection-timeout", "2"])
        defer { server.cleanUp() }
        let deadline = Date().addingTimeInterval(10)
        while Self.port("https", in: server.log) == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let https = try #require(Self.port("https", in: server.log))
        func connect() throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = https.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            try #require(rc == 0)
            var timeout = timeval(tv_sec: 8, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }
        /// Seconds until the server closes the connection (recv sees the end), or nil past 8 s.
        func secondsUntilClosed(_ fd: Int32) -> Double? {
            let start = Date()
            var byte: UInt8 = 0
            while true {
                let n = recv(fd, &byte, 1, 0)
                if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) { return Date().timeIntervalSince(start) }
                if n < 0 { return nil }
            }
        }
        let silent = try connect()
        defer { close(silent) }
        let silentTime = secondsUntilClosed(silent)
        #expect(silentTime != nil && silentTime! < 3, "a silent client is dropped at the head timeout: \(String(describing: silentTime))")
        let stalled = try connect()
        defer { close(stalled) }
        // The first bytes of a TLS ClientHello record header, then nothing.
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00]
        _ = hello.withUnsafeBytes { send(stalled, $0.baseAddress, $0.count, 0) }
        let stalledTime = secondsUntilClosed(stalled)
        #expect(stalledTime != nil && stalledTime! < 6, "a stalled handshake is cut at the connection timeout: \(String(describing: stalledTime))")
        let (status, output) = try postHTTPS(certs, port: https, Self.ping("after-stall"))
        #expect(status == 0 && output.hasSuffix("\n201"), "\(output)")
    }

    /// The protocol `openssl s_client` negotiated when limited to `flag`, or nil when the
    /// handshake failed (the client's own floor lowered so that only the server decides).
    func negotiated(_ certs: Certificates, port: UInt16, _ flag: String) throws -> String? {
        let (_, output) = try certs.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", flag, "-cipher", "DEFAULT:@SECLEVEL=0"], stdin: "")
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Cipher is") }), !line.contains("(NONE)") else { return nil }
        return String(line)
    }

    /// TLS 1.2 is the floor (RFC 8996); `--tls-priority` raises it and is checked at start.
    @Test func tlsBelowOnePointTwoIsRefusedAndThePriorityCanRaiseTheFloor() throws {
        let certs = try Certificates()
        try certs.issue("server", commonName: "version.gitlab.com")
        let (server, https) = try startServer(certs)
        defer { server.cleanUp() }
        #expect(try negotiated(certs, port: https, "-tls1") == nil, "TLS 1.0 is refused")
        #expect(try negotiated(certs, port: https, "-tls1_1") == nil, "TLS 1.1 is refused")
        #expect(try negotiated(certs, port: https, "-tls1_2")?.contains("TLSv1.2") == true)
        #expect(try negotiated(certs, port: https, "-tls1_3")?.contains("TLSv1.3") == true)

        // An operator's string that would allow TLS 1.0 still does not.
        let lax = try ServerProcess(arguments: ["--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key"),
                                                "--tls-priority", "NORMAL:+VERS-TLS1.0:+VERS-TLS1.1", "--listen-http", "127.0.0.1:0"])
        defer { lax.cleanUp() }
        let laxPort = try #require(Self.port("https", in: lax.log), "\(lax.log)")
        #expect(try negotiated(certs, port: laxPort, "-tls1") == nil)
        // Raised to TLS 1.3 only.
        let strict = try ServerProcess(arguments: ["--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key"),
                                                   "--tls-priority", "NORMAL:-VERS-TLS1.2", "--listen-http", "127.0.0.1:0"])
        defer { strict.cleanUp() }
        let strictPort = try #require(Self.port("https", in: strict.log), "\(strict.log)")
        #expect(try negotiated(certs, port: strictPort, "-tls1_2") == nil)
        #expect(try negotiated(certs, port: strictPort, "-tls1_3")?.contains("TLSv1.3") == true)

        let db = certs.path("db.sqlite3")
        for (arguments, message) in [(["--tls-priority", "NONSENSE"], "is not a GnuTLS priority string"),
                                     (["--tls-priority", "NORMAL SECURE"], "printable characters without spaces")] {
            let (status, output) = try ServerProcess.run(["serve", "--database", db, "--listen", "127.0.0.1:0",
                                                          "--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key")] + arguments)
            #expect(status != 0 && output.contains(message), "\(arguments): \(output)")
        }
        let (status, output) = try ServerProcess.run(["serve", "--database", db, "--listen", "127.0.0.1:0", "--tls-priority", "NORMAL"])
        #expect(status != 0 && output.contains("--tls-priority applies to HTTPS"), "\(output)")
    }

    @Test func serveRefusesTLSFilesItCannotUse() throws {
        let certs = try Certificates()
        try certs.issue("server", commonName: "version.gitlab.com")
        try certs.issue("other", commonName: "other")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: certs.path("garbage.pem")))
        let db = certs.path("db.sqlite3")
        let cases: [([String], String)] = [
            (["--tls-cert", certs.path("server.pem")], "both --tls-cert and --tls-key"),
            (["--tls-key", certs.path("server.key")], "both --tls-cert and --tls-key"),
            (["--tls-cert", certs.path("missing.pem"), "--tls-key", certs.path("server.key")], "cannot read the TLS certificate"),
            (["--tls-cert", certs.path("garbage.pem"), "--tls-key", certs.path("server.key")], "is not a PEM certificate"),
            (["--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.pem")], "is not a PEM key"),
            (["--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("other.key")], "do not belong together"),
            (["--listen-http", "127.0.0.1:0"], "without --tls-cert"),
        ]
        for (arguments, message) in cases {
            let (status, output) = try ServerProcess.run(["serve", "--database", db, "--listen", "127.0.0.1:0"] + arguments)
            #expect(status != 0 && output.contains(message), "\(arguments): \(output)")
        }
    }
}
