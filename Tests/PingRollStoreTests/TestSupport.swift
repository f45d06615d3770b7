import Foundation
import Logging
import PingRollCore
@testable import PingRollStore

/// A fresh SQLite database in its own temporary directory, removed when the test ends.
final class TemporaryDatabase {
    let directory: URL
    var path: String { directory.appendingPathComponent("pingroll.sqlite3").path }

    init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func open() throws -> SQLiteStore {
        let store = try SQLiteStore(path: path)
        try store.migrate()
        return store
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

func pingRecord(uuid: String = "u-1", hostname: String? = "gitlab.example.com", recordedAt: String,
                version: String? = "16.5.1-ee", edition: String? = "EEP", payload: String? = nil) -> PingRecord {
    var facts = PingFacts(installation: InstallationKey(uuid: uuid, hostname: hostname),
                          recordedAt: Timestamp.parseISO8601(recordedAt)!)
    facts.version = version
    facts.parsedVersion = version.flatMap(GitLabVersion.init)
    facts.edition = edition
    facts.tier = edition.flatMap { Tier(edition: $0) }
    let body = payload ?? #"{"uuid":"\#(uuid)","recorded_at":"\#(recordedAt)"}"#
    return PingRecord(facts: facts, receivedAt: .now(), payload: PayloadCodec.compress(Array(body.utf8)))
}

let testLogger = Logger(label: "pingroll-tests")
