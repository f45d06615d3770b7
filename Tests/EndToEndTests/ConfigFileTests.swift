import Foundation
import Testing

/// `serve --config FILE` and `pingroll config check`: command line > environment > file > default.
@Suite struct ConfigFileTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-config-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs pingroll with extra environment variables.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = ServerProcess.binary
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        // A serve that wrongly starts is stopped rather than waited for.
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 15, execute: watchdog)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func theFileSetsWhatTheCommandLineAndEnvironmentDoNot() throws {
        let file = try write("""
            access-log: true
            metrics-allow: [10.0.0.0/8]
            log-format: json
            """)
        do {
            let server = try ServerProcess(arguments: ["--config", file])
            defer { server.cleanUp() }
            #expect(try server.client().request("GET", "/metrics").status == 403, "the file's allow-list applies")
            Thread.sleep(forTimeInterval: 0.2)
            #expect(server.log.contains("\"label\":\"pingroll.access\""), "the file's access-log and log-format apply: \(server.log.suffix(500))")
        }
        do {
            let server = try ServerProcess(arguments: ["--config", file, "--metrics-allow", "127.0.0.0/8"])
            defer { server.cleanUp() }
            #expect(try server.client().request("GET", "/metrics").status == 200, "the command line wins over the file")
        }
    }

    @Test func configCheckShowsWhereEachSettingComesFromAndMasksSecrets() throws {
        let file = try write("""
            listen: 0.0.0.0:443
            database: postgresql://pingroll:hunter2@db.example/pingroll
            threads: 2
            """)
        var (status, output) = try run(["config", "check", file])
        #expect(status == 0 && output.contains("valid"), "\(output)")
        #expect(output.contains("postgresql://pingroll:***@db.example/pingroll") && !output.contains("hunter2"), "\(output)")
        #expect(output.range(of: #"listen\s+file\s+0\.0\.0\.0:443"#, options: .regularExpression) != nil, "\(output)")
        (status, output) = try run(["config", "check", file], environment: ["PINGROLL_LISTEN": "127.0.0.1:9999"])
        #expect(output.range(of: #"listen\s+environment\s+127\.0\.0\.1:9999"#, options: .regularExpression) != nil, "the environment wins over the file: \(output)")
    }

    /// A `retention` section stands for the `retention-*` settings.
    @Test func theRetentionSectionSetsTheDailyPolicy() throws {
        let file = try write("retention:\n  payload-days: 400\n  report-days: 90\n")
        let (status, output) = try run(["config", "check", file])
        #expect(status == 0 && output.range(of: #"retention-payload-days\s+file\s+400"#, options: .regularExpression) != nil
                && output.range(of: #"retention-report-days\s+file\s+90"#, options: .regularExpression) != nil, "\(output)")
    }

    /// Nine lines of anchors and aliases that stand for 10^9 values.
    static let aliasBomb: String = {
        var lines: [String] = []
        for i in 0..<9 {
            let item = i == 0 ? "x" : "*l\(i - 1)"
            lines.append("l\(i): &l\(i) [" + Array(repeating: item, count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n")
    }()

    @Test(arguments: [
        ("listn: 127.0.0.1:8080", "did you mean `listen`"),
        ("- a\n- b", "must be a mapping"),
        ("metrics-allow: {a: 1}", "is a list of values"),
        ("listen: [a, b]", "takes one value"),
        ("access-log: maybe", "is true or false"),
        ("threads: 100000", "--threads must be"),
        ("listen: \"not an address\"", "--listen must be"),
        ("key: [unclosed", "not valid YAML"),
        ("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2", "duplicated key(s): 'listen'"),
        ("discard-bodies: true", "is not a setting"),
        // A few lines of anchors and aliases that stand for 10^9 values.
        (Self.aliasBomb, "expands to more than 100000 values"),
        (String(repeating: "[", count: 70) + String(repeating: "]", count: 70), "nests deeper than 64"),
        (String(repeating: "x", count: 2 << 20), "at most 1 MiB"),
        ("retention: 30", "is a section of settings"),
        ("retention: {payload-dayz: 30}", "did you mean `retention-payload-days`"),
        ("retention: {payload-days: 30}\nretention-payload-days: 40", "is set twice"),
        ("retention: {payload-days: 0}", "--retention-payload-days must be 1 to 36500"),
    ])
    func badFilesAreRefusedWithTheReason(text: String, message: String) throws {
        let file = try write(text)
        let (status, output) = try run(["config", "check", file])
        let (serveStatus, serveOutput) = try run(["serve", "--config", file, "--database", "/tmp/never-\(UUID().uuidString).sqlite3"])
        #expect(status != 0 && output.contains(message), "\(text): \(output)")
        #expect(serveStatus != 0, "serve refuses it too: \(serveOutput)")
    }

    /// A mapping key that is a list or a mapping used to kill the process inside the YAML
    /// library (SIGILL); now it is one line naming the line and the key, and exit status 1.
    @Test(arguments: [
        ("? [a, b]\n: c\n", 1, "a key must be a plain name, not a list (`? [a, b]`)"),
        ("? {a: b}\n: c\n", 1, "not a mapping"),
        ("listen: 127.0.0.1:8080\n[a]: c\n", 2, "not a list (`[a]: c`)"),
        ("retention:\n  [payload-days]: 3\n", 2, "not a list"),
    ])
    func complexKeysAreOneLineNamingTheLineNeverASignal(text: String, line: Int, message: String) throws {
        let file = try write(text)
        for arguments in [["config", "check", file], ["serve", "--config", file, "--database", "/tmp/never-\(UUID().uuidString).sqlite3"],
                          ["serve", "--pull-config", file, "--database", "/tmp/never-\(UUID().uuidString).sqlite3"]] {
            let (status, output) = try run(arguments)
            #expect(status == 1, "\(arguments[0]) exits 1 (not a signal): \(status) \(output)")
            let lines = output.split(separator: "\n").filter { $0.contains(file) }
            #expect(lines.count == 1 && lines[0].contains("\(file):\(line)") && lines[0].contains(message), "\(arguments): \(output)")
        }
    }

    /// A file is read only up to its cap: an endless one is refused, not read into memory.
    @Test func anEndlessFileIsRefusedAtItsCap() throws {
        let (status, output) = try run(["config", "check", "/dev/zero"])
        #expect(status == 1 && output.contains("at most 1 MiB"), "\(output)")
        let (serveStatus, serveOutput) = try run(["serve", "--pull-config", "/dev/zero", "--database", "/tmp/never-\(UUID().uuidString).sqlite3"])
        #expect(serveStatus == 1 && serveOutput.contains("at most 1 MiB"), "\(serveOutput)")
    }

    @Test func aComplexKeyInsideAPullInstanceIsRefusedWithItsLine() throws {
        let file = try write("interval: 1h\ninstances:\n  - name: a\n    url: https://gitlab.example.com\n    ? [token-file]\n    : /etc/hostname\n")
        let (status, output) = try run(["serve", "--pull-config", file, "--database", "/tmp/never-\(UUID().uuidString).sqlite3"])
        #expect(status == 1 && output.contains("\(file):5: a key must be a plain name, not a list"), "\(status) \(output)")
    }

    /// Every serve option except the benchmark-only --discard-bodies and --config itself can be
    /// set in a file: the settings `config check` lists are exactly serve's long options.
    @Test func everyServeOptionCanBeSetInAFile() throws {
        let (_, help) = try run(["serve", "--help"])
        let options = Set(help.matches(of: /--([a-z][a-z-]+)/).map { String($0.1) }).subtracting(["help", "version", "config", "discard-bodies"])
        let (_, table) = try run(["config", "check", try write("{}")])
        let settings = Set(table.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) }.filter { !$0.hasSuffix(":") })
        #expect(options == settings, "only in --help: \(options.subtracting(settings)); only in the file: \(settings.subtracting(options))")
    }
}
