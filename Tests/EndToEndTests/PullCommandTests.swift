import Foundation
import Glibc
import Testing

/// `pingroll pull` against a small real HTTP server that answers the way GitLab's Service Ping
/// API does (a Python http.server on loopback), next to a serving pingroll.
@Suite struct PullCommandTests {
    static let server = #"""
    import http.server, json, sys, time
    PAYLOAD = json.dumps({"uuid": "pulled-uuid", "hostname": "gitlab.example.com", "recorded_at": "2025-02-03T04:05:06Z",
                          "version": "17.2.1-ee", "edition": "EEP", "active_user_count": 42,
                          "container_registry_enabled": True,
                          "container_registry_server": {"vendor": "gitlab", "version": "4.5.0-gitlab", "db_enabled": True}}).encode()
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers: self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            seen = self.headers.get("PRIVATE-TOKEN")
            open(sys.argv[2], "a").write(f"{self.path} {seen}\n")
            prefix = self.path.rsplit("/api/v4/usage_data/service_ping", 1)[0]
            if not self.path.endswith("/api/v4/usage_data/service_ping"): return self.answer(404, b'{"message":"404 Not Found"}')
            if seen != "glpat-secret": return self.answer(401, b'{"message":"401 Unauthorized"}')
            if prefix == "/noscope": return self.answer(403, b'{"error":"insufficient_scope"}')
            if prefix == "/empty": return self.answer(200, b"", [("Content-Type", "application/json")])
            if prefix == "/redirect": return self.answer(302, b"", [("Location", "http://127.0.0.1:9/elsewhere")])
            if prefix == "/slow": time.sleep(5); return self.answer(200, PAYLOAD)
            if prefix == "/huge": return self.answer(200, b"{" + b" " * (40 << 20) + b"}")
            if prefix == "/broken": return self.answer(200, b'{"uuid": "x", "recorded_at": "not a time"}')
            if prefix == "/oops": return self.answer(500, b"internal error")
            self.answer(200, PAYLOAD, [("Content-Type", "application/json")])
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(s.server_address[1], flush=True)
    s.serve_forever()
    """#

    /// The fake GitLab above, running on a free loopback port until `stop`.
    final class FakeGitLab {
        let port: Int
        let requests: String
        private let process = Process()

        init(directory: URL) throws {
            let script = directory.appendingPathComponent("gitlab.py").path
            requests = directory.appendingPathComponent("requests.log").path
            try PullCommandTests.server.write(toFile: script, atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [script, "0", requests]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let portLine = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
            guard let port = Int(portLine.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                kill(process.processIdentifier, SIGKILL)
                throw ServerError(message: "the fake GitLab printed no port: \(portLine)")
            }
            self.port = port
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func aPulledPayloadIsStoredOnceAndEveryWayTheAPIFailsSaysWhy() throws {
        let pingroll = try ServerProcess()
        defer { pingroll.cleanUp() }
        let dir = pingroll.directory
        let gitlab = try FakeGitLab(directory: dir)
        defer { gitlab.stop() }
        let port = gitlab.port, requests = gitlab.requests
        let base = "http://127.0.0.1:\(port)"
        let tokenFile = dir.appendingPathComponent("token").path
        try "glpat-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile, 0o600)

        var (status, output) = try pingroll.runCommand(["pull", "--url", base, "--token-file", tokenFile])
        #expect(status == 0 && output.contains("stored usage_data_id 1"), "\(output)")
        (status, output) = try pingroll.runCommand(["pull", "--url", base + "/", "--token-file", tokenFile])
        #expect(status == 0 && output.contains("already stored: usage_data_id 1"), "a repeat changes nothing: \(output)")
        let installation = try pingroll.client().request("GET", "/api/v1/installations", headers: [("Authorization", "Bearer \(try token(pingroll))")])
        #expect(installation.text.contains("pulled-uuid"), "\(installation.text)")

        let wrong = dir.appendingPathComponent("wrong").path
        try "glpat-wrong".write(toFile: wrong, atomically: true, encoding: .utf8)
        let failures: [(String, String, String)] = [
            (base, wrong, "the token was refused (401)"),
            (base + "/noscope", tokenFile, "read_service_ping scope"),
            (base + "/empty", tokenFile, "no Service Ping payload cached yet"),
            (base + "/redirect", tokenFile, "a redirect, which is not followed"),
            (base + "/huge", tokenFile, "larger than"),
            (base + "/oops", tokenFile, "answered 500"),
            (base + "/broken", tokenFile, "is not a valid ping"),
            ("http://127.0.0.1:1", tokenFile, "cannot reach 127.0.0.1"),
        ]
        for (url, file, message) in failures {
            (status, output) = try pingroll.runCommand(["pull", "--url", url, "--token-file", file])
            #expect(status != 0 && output.contains(message), "\(url): \(output)")
            #expect(!output.contains("glpat-"), "the token never appears in output")
        }
        (status, output) = try pingroll.runCommand(["pull", "--url", base + "/slow", "--token-file", tokenFile, "--timeout", "1"])
        #expect(status != 0 && (output.contains("did not answer") || output.contains("timed out")), "\(output)")
        // The broken payload is in the quarantine with where it came from.
        let quarantine = try pingroll.client().request("GET", "/api/v1/quarantine", headers: [("Authorization", "Bearer \(try token(pingroll, role: "admin"))")])
        #expect(quarantine.text.contains("pulled from http://127.0.0.1:\(port)/broken/api/v4/usage_data/service_ping"), "\(quarantine.text.prefix(600))")
        // Every request carried the token, and only to the API path.
        let seen = try String(contentsOfFile: requests, encoding: .utf8)
        #expect(seen.split(separator: "\n").allSatisfy { $0.hasSuffix("/api/v4/usage_data/service_ping glpat-secret") || $0.hasSuffix("glpat-wrong") }, "\(seen)")
    }

    /// `serve --pull-config`: a list of instances pulled on a schedule, their status in the API.
    @Test func serveWithAPullConfigPullsOnScheduleAndShowsEachInstancesStatus() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-pulls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gitlab = try FakeGitLab(directory: dir)
        defer { gitlab.stop() }
        let port = gitlab.port
        let good = dir.appendingPathComponent("good").path, bad = dir.appendingPathComponent("bad").path
        try "glpat-secret".write(toFile: good, atomically: true, encoding: .utf8)
        try "glpat-wrong".write(toFile: bad, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("pulls.yaml").path
        try """
            interval: 2s
            instances:
              - {name: alpha, url: "http://127.0.0.1:\(port)", token-file: "\(good)"}
              - {name: beta, url: "http://127.0.0.1:\(port)", token-file: "\(bad)"}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let pingroll = try ServerProcess(arguments: ["--pull-config", config])
        defer { pingroll.cleanUp() }
        let auth = [("Authorization", "Bearer \(try token(pingroll, role: "admin"))")]
        var pulls: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            pulls = (try pingroll.client().request("GET", "/api/v1/pulls", headers: auth).json?["pulls"] as? [[String: Any]]) ?? []
            if let a = pulls.first(where: { $0["name"] as? String == "alpha" }), (a["successes"] as? Int ?? 0) >= 2,
               let b = pulls.first(where: { $0["name"] as? String == "beta" }), (b["failures"] as? Int ?? 0) >= 1 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let alpha = try #require(pulls.first { $0["name"] as? String == "alpha" }, "\(pulls)")
        let beta = try #require(pulls.first { $0["name"] as? String == "beta" }, "\(pulls)")
        #expect((alpha["successes"] as? Int ?? 0) >= 2 && alpha["last_usage_data_id"] as? Int == 1 && alpha["last_error"] is NSNull, "pulled on schedule, stored once: \(alpha)")
        #expect((beta["last_error"] as? String ?? "").contains("401") && beta["last_success_at"] is NSNull, "\(beta)")
        #expect(try pingroll.runCommand(["rollup", "verify"]).1.contains("over 1 pings"))
        #expect(!pingroll.log.contains("glpat-"), "no token in the log")
        // Viewers (the overview dashboard) see how each pull goes, but not the URLs or error texts.
        let viewed = try pingroll.client().request("GET", "/api/v1/pulls", headers: [("Authorization", "Bearer \(try token(pingroll))")])
        let viewerPulls = (viewed.json?["pulls"] as? [[String: Any]]) ?? []
        let viewerBeta = try #require(viewerPulls.first { $0["name"] as? String == "beta" }, "\(viewed.status) \(viewerPulls)")
        #expect(viewed.status == 200 && viewerPulls.allSatisfy { $0["url"] == nil && $0["last_error"] == nil }, "\(viewerPulls)")
        #expect(viewerBeta["failing"] as? Bool == true && viewerPulls.first { $0["name"] as? String == "alpha" }?["failing"] as? Bool == false)

        // The status outlives a restart: a new serve on the same database starts from it.
        pingroll.stop()
        try "interval: 24h\ninstances:\n  - {name: alpha, url: \"http://127.0.0.1:\(port)\", token-file: \"\(good)\"}\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let restarted = try ServerProcess(arguments: ["--pull-config", config], database: pingroll.databasePath)
        defer { restarted.cleanUp() }
        let after = (try restarted.client().request("GET", "/api/v1/pulls", headers: [("Authorization", "Bearer \(try token(restarted, role: "admin"))")])
            .json?["pulls"] as? [[String: Any]]) ?? []
        let alphaAfter = try #require(after.first, "\(after)")
        #expect(after.count == 1 && (alphaAfter["successes"] as? Int ?? 0) >= (alpha["successes"] as? Int ?? 0)
                && alphaAfter["last_success_at"] as? String != nil && alphaAfter["last_usage_data_id"] as? Int == 1, "\(alphaAfter)")
        let (status, output) = try ServerProcess.run(["serve", "--database", "/tmp/never-\(UUID().uuidString).sqlite3", "--listen", "127.0.0.1:0",
                                                      "--pull-config", dir.appendingPathComponent("missing.yaml").path])
        #expect(status != 0 && output.contains("--pull-config"), "\(output)")
    }

    @Test func pullRefusesURLsAndTokenFilesItMustNotUse() throws {
        let pingroll = try ServerProcess()
        defer { pingroll.cleanUp() }
        let tokenFile = pingroll.directory.appendingPathComponent("token").path
        try "glpat-secret".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let empty = pingroll.directory.appendingPathComponent("empty").path
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--url", "http://gitlab.example.com", "--token-file", tokenFile], "unencrypted"),
            (["--url", "ftp://gitlab.example.com", "--token-file", tokenFile], "is not HTTPS"),
            (["--url", "https://user:pw@gitlab.example.com", "--token-file", tokenFile], "is not an instance URL"),
            (["--url", "not a url", "--token-file", tokenFile], "is not an instance URL"),
            (["--url", "https://gitlab.example.com", "--token-file", "/nonexistent/token"], "cannot read"),
            (["--url", "https://gitlab.example.com", "--token-file", empty], "does not hold a token"),
            (["--url", "https://gitlab.example.com", "--token-file", tokenFile, "--timeout", "0"], "--timeout"),
        ]
        for (arguments, message) in cases {
            let (status, output) = try pingroll.runCommand(["pull"] + arguments)
            #expect(status != 0 && output.contains(message), "\(arguments): \(output)")
        }
    }

    func token(_ server: ServerProcess, role: String = "viewer") throws -> String {
        let (status, output) = try server.runCommand(["token", "create", "--role", role, "--name", "\(role)-\(UUID().uuidString.prefix(8))"])
        #expect(status == 0)
        return try #require(output.split(separator: "\n").last.map(String.init))
    }
}
