import Foundation
import Glibc
import Testing

/// `pingroll pull` against a small real HTTP server that answers the way GitLab's Service Ping
/// API does (a Python http.server on loopback), next to a serving pingroll.
@Suite struct PullCommandTests {
    static let server = #"""
    import http.server, json, sys, time, zlib
    def gzipped(data):
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    BOMB = None
    def bomb():
        # gzip of 1 GiB of zeros: about 1 MiB on the wire.
        global BOMB
        if BOMB is None:
            c = zlib.compressobj(9, zlib.DEFLATED, 31)
            zeros = bytes(1 << 20)
            BOMB = b"".join(c.compress(zeros) for _ in range(1024)) + c.flush()
        return BOMB
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
        def send_huge_declared(self):
            self.send_response(200); self.send_header("Content-Length", str(1 << 30)); self.end_headers()
            try: self.wfile.write(b" " * (1 << 20))
            except Exception: pass
        def do_GET(self):
            seen = self.headers.get("PRIVATE-TOKEN")
            open(sys.argv[2], "a").write(f"{self.path} {seen}\n")
            open(sys.argv[2] + ".encoding", "a").write(self.headers.get("Accept-Encoding", "-") + "\n")
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
            if prefix == "/gzipbomb":
                time.sleep(2)
                return self.answer(200, bomb(), [("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
            if prefix == "/brotli": return self.answer(200, b"\x0b\x02\x80{}\x03", [("Content-Encoding", "br")])
            if prefix == "/cut":  # a gzip body cut in half
                return self.answer(200, gzipped(PAYLOAD)[: len(gzipped(PAYLOAD)) // 2], [("Content-Encoding", "gzip")])
            if prefix == "/gzipped": return self.answer(200, gzipped(PAYLOAD), [("Content-Encoding", "gzip")])
            if prefix == "/stream":  # 1 GiB, no Content-Length, sent as fast as it is read
                self.send_response(200); self.end_headers()
                chunk = b" " * (1 << 20)
                try:
                    for _ in range(1024): self.wfile.write(chunk)
                except Exception: pass
                return
            if prefix == "/declared": return self.send_huge_declared()
            if prefix == "/stall": time.sleep(600); return
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

    /// Runs `pingroll` with `arguments` and returns its exit status, output and peak RSS in MiB
    /// (the kernel's count for the child, through Python's getrusage).
    static func runMeasured(_ arguments: [String]) throws -> (Int32, String, Double) {
        let script = """
            import resource, subprocess, sys
            r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            print(r.stdout)
            """
        let (_, output) = try ServerProcess.runTool("/usr/bin/python3", ["-c", script, ServerProcess.binary.path] + arguments)
        let first = output.split(separator: "\n").first?.split(separator: " ") ?? []
        guard first.count == 2, let status = Int32(first[0]), let kib = Double(first[1]) else { throw ServerError(message: output) }
        return (status, output, kib / 1024)
    }

    /// What a pulled instance sends is bounded by the cap whatever its encoding: a gzip body
    /// that inflates to 1 GiB, or a plain 1 GiB stream, stop being read at 32 MiB; the pull asks
    /// for `identity` and inflates a gzip answer itself, under the same cap.
    @Test func pulledBodiesAreBoundedByTheCapCompressedOrNot() throws {
        let pingroll = try ServerProcess()
        defer { pingroll.cleanUp() }
        let dir = pingroll.directory
        let gitlab = try FakeGitLab(directory: dir)
        defer { gitlab.stop() }
        let base = "http://127.0.0.1:\(gitlab.port)"
        let tokenFile = dir.appendingPathComponent("token").path
        try "glpat-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            ("/gzipbomb", "larger than 33554432 bytes"),
            ("/stream", "larger than 33554432 bytes"),
            ("/declared", "larger than 33554432 bytes"),
            ("/brotli", "Content-Encoding br"),
            ("/cut", "cut short"),
        ]
        for (path, message) in cases {
            let started = Date()
            let (status, output, peak) = try Self.runMeasured(["pull", "--url", base + path, "--token-file", tokenFile, "--database", pingroll.databasePath])
            #expect(status == 1 && output.contains(message), "\(path): \(output)")
            #expect(peak < 100, "\(path): pull peaked at \(peak) MiB RSS")
            #expect(Date().timeIntervalSince(started) < 20, "\(path)")
        }
        // A server that compresses although asked not to is still understood.
        let (status, output, _) = try Self.runMeasured(["pull", "--url", base + "/gzipped", "--token-file", tokenFile, "--database", pingroll.databasePath])
        #expect(status == 0 && output.contains("stored usage_data_id"), "\(output)")
        let encodings = try String(contentsOfFile: gitlab.requests + ".encoding", encoding: .utf8).split(separator: "\n")
        #expect(!encodings.isEmpty && encodings.allSatisfy { $0 == "identity" }, "\(encodings)")
    }

    /// The serving process pulls the same 1 GiB gzip bomb on its schedule: its memory stays
    /// within 100 MiB of what it was during the pull, and within 64 MiB afterwards.
    /// A fake GitLab, and a serve pulling its `path` daily (so once, at start); cleaned up by `done`.
    final class ScheduledPull {
        let directory: URL
        let gitlab: FakeGitLab
        let config: String
        let pingroll: ServerProcess

        init(_ path: String) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-pull-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            gitlab = try FakeGitLab(directory: directory)
            let tokenFile = directory.appendingPathComponent("token").path
            try "glpat-secret".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            config = directory.appendingPathComponent("pulls.yaml").path
            try "interval: 24h\ninstances:\n  - {name: one, url: \"http://127.0.0.1:\(gitlab.port)\(path)\", token-file: \"\(tokenFile)\"}\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            pingroll = try ServerProcess(arguments: ["--pull-config", config])
        }

        func done() {
            pingroll.cleanUp()
            gitlab.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test func aScheduledPullOfACompressionBombLeavesServesMemoryBounded() throws {
        let pull = try ScheduledPull("/gzipbomb")
        defer { pull.done() }
        let pingroll = pull.pingroll
        func rss() -> Double { RSSSampler.rss(pingroll.process.processIdentifier) }
        // The fake instance waits 2 s before answering: the baseline is taken meanwhile.
        let before = rss()
        let auth = [("Authorization", "Bearer \(try token(pingroll, role: "admin"))")]
        var peak = before, error = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            peak = max(peak, rss())
            let pulls = (try pingroll.client().request("GET", "/api/v1/pulls", headers: auth).json?["pulls"] as? [[String: Any]]) ?? []
            if let e = pulls.first?["last_error"] as? String { error = e; break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(error.contains("larger than"), "\(error)")
        #expect(peak - before < 100, "serve grew from \(before) to \(peak) MiB during the pull")
        Thread.sleep(forTimeInterval: 5)
        let after = rss()
        #expect(after - before < 64, "serve grew from \(before) to \(after) MiB after the pull")
        #expect(try pingroll.client().postJSON("/usage_data", HostileClientTests.ping(uuid: "after-bomb", users: "1")).status == 201)
    }

    /// SIGTERM does not wait for an instance that never answers: the pull is cancelled and
    /// serve exits within a few seconds.
    @Test func sigtermCancelsAStalledScheduledPull() throws {
        let pull = try ScheduledPull("/stall")
        defer { pull.done() }
        let (pingroll, gitlab, config) = (pull.pingroll, pull.gitlab, pull.config)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !((try? String(contentsOfFile: gitlab.requests, encoding: .utf8)) ?? "").contains("/stall/") {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let started = Date()
        let status = pingroll.stop(signal: SIGTERM)
        let took = Date().timeIntervalSince(started)
        #expect(status == 0 && took < 5, "serve exited \(status) after \(took) s")
        // The cancelled pull is not counted as the instance's failure: it is due at the next start.
        let restarted = try ServerProcess(arguments: ["--pull-config", config], database: pingroll.databasePath)
        defer { restarted.cleanUp() }
        let pulls = (try restarted.client().request("GET", "/api/v1/pulls", headers: [("Authorization", "Bearer \(try token(restarted, role: "admin"))")])
            .json?["pulls"] as? [[String: Any]]) ?? []
        #expect(pulls.first?["failures"] as? Int == 0, "\(pulls)")
    }

    /// The first command to store pings in a new database may be `pull`: the rollups are
    /// prepared before its ping, so they are exact without a rebuild.
    @Test func aPullIntoANewDatabaseLeavesTheRollupsExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-firstpull-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gitlab = try FakeGitLab(directory: dir)
        defer { gitlab.stop() }
        let tokenFile = dir.appendingPathComponent("token").path
        try "glpat-secret".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let database = dir.appendingPathComponent("fresh.sqlite3").path
        var (status, output) = try ServerProcess.run(["migrate", "--database", database])
        #expect(status == 0, "\(output)")
        (status, output) = try ServerProcess.run(["pull", "--url", "http://127.0.0.1:\(gitlab.port)", "--token-file", tokenFile, "--database", database])
        #expect(status == 0 && output.contains("stored usage_data_id 1"), "\(output)")
        (status, output) = try ServerProcess.run(["rollup", "verify", "--database", database])
        #expect(status == 0 && output.contains("0 differences, 0 stale metrics") && !output.contains("stale:"), "\(output)")
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
