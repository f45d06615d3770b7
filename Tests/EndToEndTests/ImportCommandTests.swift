import Foundation
import Testing
import PingRollCore
import PingRollStore

@Suite struct ImportCommandTests {
    @Test func importsNDJSONOnceQuarantinesBadLinesAndReRunsChangeNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite3").path
        var lines = (0..<300).map { Pings.make(uuid: "imp-\($0 % 100)", recordedAt: "2024-0\(1 + $0 / 100)-15T10:00:00Z", approximateBytes: 3_000) }
        lines.insert("{not json", at: 7)
        lines.insert(#"{"uuid":"no-time"}"#, at: 150)
        let plain = dir.appendingPathComponent("pings.ndjson")
        try (lines.joined(separator: "\n") + "\n").write(to: plain, atomically: true, encoding: .utf8)
        let gz = dir.appendingPathComponent("more.ndjson.gz")
        try Data(try gzip(Array((Pings.make(uuid: "gz-1", approximateBytes: 2_000) + "\r\n").utf8))).write(to: gz)

        // Only serve and migrate create a database.
        var (status, output) = try ServerProcess.run(["import", "--database", db, plain.path])
        #expect(status != 0 && output.contains("there is no pingroll database at \(db)") && !FileManager.default.fileExists(atPath: db), "\(output)")
        #expect(try ServerProcess.run(["migrate", "--database", db]).0 == 0)
        (status, output) = try ServerProcess.run(["import", "--database", db, "--batch", "64", plain.path, gz.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("imported 303 lines") && output.contains("301 new, 0 duplicates, 2 rejected"), "\(output)")
        let store = try SQLiteStore(path: db)
        defer { store.close() }
        #expect(try store.statistics().pings == 301)
        let messages = try store.quarantine(limit: 10).map(\.record.message)
        #expect(messages.contains { $0.hasPrefix("pings.ndjson line 8:") } && messages.contains { $0.hasPrefix("pings.ndjson line 151:") })

        (status, output) = try ServerProcess.run(["import", "--database", db, plain.path, gz.path])
        #expect(status == 0 && output.contains("0 new, 301 duplicates"), "\(output)")
        #expect(try store.statistics().pings == 301)
        #expect(try store.quarantine(limit: 10).count == 2, "a rerun does not quarantine the same lines again")
        #expect(try ServerProcess.run(["rollup", "verify", "--database", db]).0 == 0)
        let missing = try ServerProcess.run(["import", "--database", db, dir.appendingPathComponent("missing.ndjson").path])
        #expect(missing.0 != 0 && missing.1.contains("missing.ndjson: No such file or directory"), "\(missing.1)")
    }

    /// A .gz file cut short or damaged is an error naming where, after the complete lines
    /// before it are stored; it used to end in "imported 7 lines" and exit 0.
    @Test func aTruncatedOrDamagedGzipFileIsAnErrorNamingWhere() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-import-cut-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite3").path
        #expect(try ServerProcess.run(["migrate", "--database", db]).0 == 0)
        // Random-looking pings so that the compressed stream is long and half of it is half the lines.
        let lines = (0..<40).map { Pings.make(uuid: "cut-\($0)-\(UUID().uuidString)", approximateBytes: 4_000) }
        let whole = try gzip(Array((lines.joined(separator: "\n") + "\n").utf8))
        let cut = dir.appendingPathComponent("cut.ndjson.gz")
        try Data(whole.prefix(whole.count / 2)).write(to: cut)
        var (status, output) = try ServerProcess.run(["import", "--database", db, cut.path])
        #expect(status != 0 && output.contains("ends unfinished at byte \(whole.count / 2)") && output.contains("the rest of the file is lost"), "\(output)")
        let imported = try #require(output.firstMatch(of: /lines 1 to (\d+) were imported/).flatMap { Int($0.1) }, "\(output)")
        #expect(imported > 0 && imported < 40)
        let store = try SQLiteStore(path: db)
        defer { store.close() }
        #expect(try store.statistics().pings == Int64(imported) && store.quarantine(limit: 10).isEmpty, "the cut line is not imported")

        var damaged = whole
        damaged[whole.count / 2] ^= 0xFF
        damaged[whole.count / 2 + 1] ^= 0xFF
        let bad = dir.appendingPathComponent("bad.ndjson.gz")
        try Data(damaged).write(to: bad)
        (status, output) = try ServerProcess.run(["import", "--database", db, bad.path])
        #expect(status != 0 && (output.contains("damaged at byte") || output.contains("ends unfinished")), "\(output)")
    }

    @Test func aFileWhoseEveryLineIsRejectedFailsAndAsksWhetherItIsNDJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-import-pretty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite3").path
        #expect(try ServerProcess.run(["migrate", "--database", db]).0 == 0)
        let pretty = dir.appendingPathComponent("pretty.json")
        try "{\n  \"uuid\": \"x\",\n  \"recorded_at\": \"2024-01-01T00:00:00Z\"\n}\n".write(to: pretty, atomically: true, encoding: .utf8)
        let (status, output) = try ServerProcess.run(["import", "--database", db, pretty.path])
        #expect(status == 1 && output.contains("every line of \(pretty.path) was rejected") && output.contains("is it NDJSON"), "\(output)")
    }

}

/// The database argument is a path or a PostgreSQL URL and nothing else, and a command that
/// only reads or adds to a database never creates one at a mistyped path.
@Suite struct DatabaseArgumentTests {
    let dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-dbarg-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    @Test(arguments: ["postgress://localhost/pingroll", "mysql://root@localhost/pingroll", "sqlite:///tmp/x.sqlite3", "http://example.org/db"])
    func aURLThatIsNotPostgreSQLIsRefusedAndCreatesNothing(url: String) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        for command in [["migrate"], ["token", "list"], ["rollup", "verify"]] {
            let (status, output) = try ServerProcess.runTool(ServerProcess.binary.path, command + ["--database", url], in: dir)
            #expect(status != 0 && output.contains("is not a database pingroll can use"), "\(command) \(url): \(output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing was created in the working directory")
    }

    @Test func readingCommandsRefuseAMissingDatabaseWithoutCreatingIt() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("typo/pingroll.sqlite3").path
        for command in [["token", "list"], ["token", "create", "--role", "viewer", "--name", "x"], ["rollup", "verify"], ["rollup", "rebuild"],
                        ["beta", "programs"], ["beta", "export", "--program", "p"]] {
            let (status, output) = try ServerProcess.run(command + ["--database", path])
            #expect(status != 0 && output.contains("there is no pingroll database at \(path)"), "\(command): \(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("typo").path))
        // A file that is not a pingroll database is not taken for one either.
        let empty = dir.appendingPathComponent("empty.sqlite3").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let (status, output) = try ServerProcess.run(["token", "list", "--database", empty])
        #expect(status != 0 && output.contains("has no pingroll schema"), "\(output)")
    }

    @Test func benchmarkHelpIsHelpNotAPayload() throws {
        let bench = ServerProcess.binary.deletingLastPathComponent().appendingPathComponent("pingroll-bench").path
        let (status, output) = try ServerProcess.runTool(bench, ["generate", "--help"])
        #expect(status == 0 && output.hasPrefix("usage: pingroll-bench") && output.utf8.count < 2_000, "\(output.prefix(200))")
    }

    @Test func aRelativePathMeansTheSameFileWhereverTheCommandRuns() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ServerProcess.runTool(ServerProcess.binary.path, ["migrate", "--database", "here.sqlite3"], in: dir).0 == 0)
        let (status, output) = try ServerProcess.runTool(ServerProcess.binary.path, ["token", "list", "--database", dir.path + "/./here.sqlite3"], in: URL(fileURLWithPath: "/"))
        #expect(status == 0, "\(output)")
        // A subcommand's own usage comes with its validation errors.
        let bad = try ServerProcess.run(["token", "create", "--role", "boss", "--name", "x", "--database", dir.path + "/here.sqlite3"])
        #expect(bad.0 != 0 && bad.1.contains("Usage: pingroll token create") && bad.1.contains("See 'pingroll token create --help'"), "\(bad.1)")
        // The default is absolute and named in --help.
        let help = try ServerProcess.run(["token", "list", "--help"]).1
        #expect(help.contains(getuid() == 0 ? "/var/lib/pingroll/pingroll.sqlite3" : ".local/share/pingroll/pingroll.sqlite3"), "\(help)")
    }
}
