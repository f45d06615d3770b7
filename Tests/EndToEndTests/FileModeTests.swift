import Foundation
import Glibc
import Testing

/// What pingroll writes to disk is private to its user: the database, its journal, the
/// directory it makes for them and backups are 0600 / 0700 whatever the umask it is started
/// with; a database others can read gets one warning line at start.
@Suite struct FileModeTests {
    func mode(_ path: String) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0o7777 }
        return info.st_mode & 0o777
    }

    @Test func theDatabaseItsDirectoryAndBackupsArePrivate() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-modes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let database = root.appendingPathComponent("data/pingroll.sqlite3").path
        let previous = umask(0o022)  // a permissive umask, as most shells have
        defer { umask(previous) }
        let server = try ServerProcess(database: database)
        defer { server.cleanUp() }
        #expect(try server.client().postJSON("/usage_data", HostileClientTests.ping(uuid: "private", users: "3")).status == 201)
        #expect(mode(root.appendingPathComponent("data").path) == 0o700)
        #expect(mode(database) == 0o600)
        #expect(mode(database + "-wal") == 0o600)
        let backup = root.appendingPathComponent("copy.sqlite3").path
        let (status, output) = try server.runCommand(["backup", "--output", backup])
        #expect(status == 0, "\(output)")
        #expect(mode(backup) == 0o600, "the backup is \(String(mode(backup), radix: 8))")
        #expect(!server.log.contains("can be read by other users"))

        // A database made readable by others (copied in, or from before) is named once at start.
        server.stop()
        chmod(database, 0o644)
        let again = try ServerProcess(database: database)
        defer { again.cleanUp() }
        let warnings = again.log.split(separator: "\n").filter { $0.contains("can be read by other users") }
        #expect(warnings.count == 1 && warnings[0].contains(database) && warnings[0].contains("mode 644"), "\(again.log)")
    }
}
