import Foundation
import Testing
import PingRollCore
@testable import PingRollStore

/// Incremental rollups must equal a from-scratch recompute by a separate, obviously-correct
/// implementation, whatever the arrival order, batching, duplicates and late arrivals.
@Suite struct RollupPropertyTests {
    static let catalog = try! MetricCatalog(metrics: [
        MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean),
        // The shipped rule: the registry enabled; a false value also needs the gitlab vendor.
        MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean,
                         when: [MetricCondition(keyPath: "container_registry_enabled", equals: .bool(true))],
                         whenFalse: [MetricCondition(keyPath: "container_registry_server.vendor", equals: .string("gitlab"))]),
        MetricDefinition(keyPath: "container_registry_server.version", valueType: .string, maxValues: 3, dataCategory: .optional),
        MetricDefinition(keyPath: "active_user_count", valueType: .number, dataCategory: .optional),
        MetricDefinition(keyPath: "counts.packages", valueType: .number, periods: [.week]),
    ])

    /// One ping as the test generates it; `json` is what is posted.
    struct Spec {
        var uuid: String
        var hostname: String
        var recordedAt: Int64
        var edition: String?
        var installationType: String?
        var version: String?
        var vendor: String?
        var registryEnabled: Bool?
        var dbEnabled: Bool?
        var registryVersion: String?
        /// nil: missing; a failure value is written as it is.
        var activeUsers: String?
        var packages: String?
        var licenseExpiresAt: String? = nil
        /// `settings.collected_data_categories` as JSON text; nil: missing.
        var categories: String? = nil

        var json: String {
            var members = [#""uuid":"\#(uuid)""#, #""hostname":"\#(hostname)""#,
                           #""recorded_at":"\#(Timestamp(milliseconds: recordedAt))""#]
            if let edition { members.append(#""edition":"\#(edition)""#) }
            if let licenseExpiresAt { members.append(#""license_expires_at":"\#(licenseExpiresAt)""#) }
            if let installationType { members.append(#""installation_type":"\#(installationType)""#) }
            if let version { members.append(#""version":"\#(version)""#) }
            if let registryEnabled { members.append(#""container_registry_enabled":\#(registryEnabled)"#) }
            var server: [String] = []
            if let vendor { server.append(#""vendor":"\#(vendor)""#) }
            if let dbEnabled { server.append(#""db_enabled":\#(dbEnabled)"#) }
            if let registryVersion { server.append(#""version":"\#(registryVersion)""#) }
            members.append(#""container_registry_server":{\#(server.joined(separator: ","))}"#)
            if let activeUsers { members.append(#""active_user_count":\#(activeUsers)"#) }
            if let packages { members.append(#""counts":{"packages":\#(packages)}"#) }
            if let categories { members.append(#""settings":{"collected_data_categories":\#(categories)}"#) }
            return "{" + members.joined(separator: ",") + "}"
        }
    }


    static func randomStream(_ rng: inout SplitMix) -> [Spec] {
        let base = Timestamp.parseISO8601("2024-12-20T00:00:00Z")!.milliseconds
        // Some are GitLab's own: GitLab.com's uuid, hosts under gitlab.com (any case), and below
        // development kits; `gitlab.com.example.org` is not.
        let hosts = ["host-a", "gitlab.com", "Ops.GitLab.com", "gitlab.com.example.org"]
        let installations = (0..<Int.random(in: 3...12, using: &rng)).map { i in
            (i == 4 ? InternalInstallations.gitlabComUUID : "uuid-\(i % 5)", i < 5 ? "" : hosts[i % hosts.count])
        }
        var specs: [Spec] = []
        for _ in 0..<Int.random(in: 20...80, using: &rng) {
            let (uuid, host) = installations.randomElement(using: &rng)!
            // About 5 weeks around a year end, hours apart, some exactly at midnight.
            var at = base + Int64.random(in: 0..<(35 * 24), using: &rng) * 3_600_000
            if Bool.random(using: &rng) { at += Int64.random(in: 0..<3_600_000, using: &rng) }
            specs.append(Spec(
                uuid: uuid, hostname: host, recordedAt: at,
                edition: ["CE", "EE", "EEP", "EEU", "EE Free", nil].randomElement(using: &rng)!,
                installationType: ["omnibus-gitlab", "gitlab-helm-chart", "gitlab-development-kit", "", nil].randomElement(using: &rng)!,
                version: ["16.4.1-ee", "16.5.0", "17.0.0-pre", "garbage", nil].randomElement(using: &rng)!,
                vendor: ["gitlab", "other", "", nil].randomElement(using: &rng)!,
                registryEnabled: [true, false, nil].randomElement(using: &rng)!,
                dbEnabled: [true, false, nil].randomElement(using: &rng)!,
                registryVersion: ["3.85.0-gitlab", "3.86.1-gitlab", "3.90.0-gitlab", "4.0.0-gitlab", "2.8.1", nil].randomElement(using: &rng)!,
                activeUsers: ["0", "12", "1500", "-1", "-2", "-1000", "2.5", "\"many\"", "8000000000000000000", "9007199254740993",
                              "-9007199254740992", "1e400", "18446744073709551615", nil].randomElement(using: &rng)!,
                packages: ["7", "0", "{\"-1\": -1}", "-1", nil].randomElement(using: &rng)!,
                licenseExpiresAt: ["2020-06-01", "2039-01-01", "", nil].randomElement(using: &rng)!,
                categories: [#"["standard","subscription","operational","optional"]"#, #"["Standard","Operational"]"#,
                             #"["standard","optional","optional"]"#, "[]", #"["standard",1]"#, "\"optional\"", nil].randomElement(using: &rng)!))
        }
        // Duplicates (same installation and instant, possibly other content) and shuffled arrival.
        for _ in 0..<Int.random(in: 0...15, using: &rng) {
            var copy = specs.randomElement(using: &rng)!
            if Bool.random(using: &rng) { copy.activeUsers = "999" }
            specs.append(copy)
        }
        specs.shuffle(using: &rng)
        return specs
    }

    /// The reference: dedupe (first arrival wins), latest per installation and period, and the
    /// cells computed directly from the specs, sharing no code with the store's rollup engine.
    static func reference(_ arrived: [Spec], admitted: [String: Set<String>]) -> [CellKey: CellValue] {
        var stored: [String: Spec] = [:]
        for s in arrived {
            let key = "\(s.uuid)|\(s.hostname.lowercased())|\(s.recordedAt)"
            if stored[key] == nil { stored[key] = s }
        }
        func periodStart(_ kind: PeriodKind, _ ms: Int64) -> Int64 {
            let day = Int64((Double(ms) / 86_400_000).rounded(.down))
            var date = Date(timeIntervalSince1970: Double(day) * 86_400)
            var calendar = Calendar(identifier: .iso8601)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            switch kind {
            case .day: break
            case .week: date = calendar.dateInterval(of: .weekOfYear, for: date)!.start
            case .month: date = calendar.dateInterval(of: .month, for: date)!.start
            }
            return Int64(date.timeIntervalSince1970 / 86_400)
        }
        var latest: [String: Spec] = [:]
        for s in stored.values {
            for kind in PeriodKind.allCases {
                let key = "\(s.uuid)|\(s.hostname)|\(kind)|\(periodStart(kind, s.recordedAt))"
                if let current = latest[key], current.recordedAt > s.recordedAt { continue }
                latest[key] = s
            }
        }
        var cells: [CellKey: CellValue] = [:]
        for (key, s) in latest {
            let kind = PeriodKind(rawValue: key.split(separator: "|", omittingEmptySubsequences: false)[2].description)!
            let start = periodStart(kind, s.recordedAt)
            let tiers = ["CE": "free", "EE Free": "free", "EE": "starter", "EES": "starter", "EEP": "premium", "EEU": "ultimate"]
            let parts = s.version.map { $0.split(separator: "-")[0].split(separator: ".") } ?? []
            let version = parts.count >= 2 && Int(parts[0]) != nil && Int(parts[1]) != nil ? "\(parts[0]).\(parts[1])" : "unknown"
            // A paid edition whose licence expired before the ping counts as free.
            let expired = s.licenseExpiresAt == "2020-06-01"
            let tier = s.edition.flatMap { tiers[$0] }.map { expired ? "free" : $0 } ?? "unknown"
            let host = s.hostname.lowercased()
            let isInternal = s.installationType == "gitlab-development-kit" || s.uuid == "ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f"
                || host == "gitlab.com" || host.hasSuffix(".gitlab.com")
            // A list of strings only; `optional` in any case means optional metrics are collected.
            let list = s.categories.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
            let optional = list.map { $0.contains { $0.lowercased() == "optional" } ? "collected" : "not_collected" } ?? "unknown"
            let optionalOff = optional == "not_collected"
            let tuple = RollupTuple(fields: [s.edition ?? "unknown", tier,
                                          (s.installationType ?? "").isEmpty ? "unknown" : s.installationType!, version,
                                          (s.vendor ?? "").isEmpty ? "unknown" : s.vendor!, isInternal ? "true" : "false", optional])
            func bump(_ metric: String, _ cell: String, _ value: CellValue = CellValue(count: 1)) {
                let k = CellKey(period: kind, periodStart: start, tuple: tuple, metric: metric, cell: cell)
                cells[k] = (cells[k] ?? .zero) + value
            }
            func number(_ metric: String, _ text: String?, optionalCategory: Bool = false) {
                switch text {
                case nil where optionalCategory && optionalOff: bump(metric, "not_collected")
                case "-1", "-2", "-1000", "{\"-1\": -1}": bump(metric, "failed")
                case let t? where t.first.map { $0 == "-" || $0.isNumber } ?? false:
                    // Numbers beyond ±2^53 (or beyond a double) count as out of range, unsummed.
                    if let d = Double(t), d.isFinite, abs(d) <= 9_007_199_254_740_992 {
                        bump(metric, "reporting", CellValue(count: 1, sumUnits: Int64(d.rounded(.towardZero)),
                                                            sumMicros: Int64(((d - d.rounded(.towardZero)) * 1_000_000).rounded())))
                        bump(metric, LogBuckets.cell(for: d))
                    } else {
                        bump(metric, "out_of_range")
                    }
                default: bump(metric, "unknown")
                }
            }
            bump("", "installations")
            bump("container_registry_enabled", s.registryEnabled.map { $0 ? "true" : "false" } ?? "unknown")
            // true counts whenever the registry is enabled; false only when its vendor is gitlab too.
            let dbCell: String
            switch (s.registryEnabled, s.dbEnabled) {
            case (true?, true?): dbCell = "true"
            case (true?, false?): dbCell = s.vendor == "gitlab" ? "false" : "unknown"
            default: dbCell = "unknown"
            }
            bump("container_registry_server.db_enabled", dbCell)
            if let v = s.registryVersion {
                bump("container_registry_server.version", admitted["container_registry_server.version", default: []].contains(v) ? "v:\(v)" : "other")
            } else {
                bump("container_registry_server.version", optionalOff ? "not_collected" : "unknown")
            }
            number("active_user_count", s.activeUsers, optionalCategory: true)
            if kind == .week { number("counts.packages", s.packages) }
        }
        return cells.filter { !$0.value.isZero }
    }

    @Test(arguments: Backend.available, Array(1...25) as [UInt64])
    func incrementalRollupsEqualAFromScratchRecompute(backend: Backend, seed: UInt64) throws {
        var rng = SplitMix(state: seed)
        let specs = Self.randomStream(&rng)
        let db = TestDatabase(backend)
        let store = try db.open(catalog: Self.catalog)
        defer { store.close() }
        #expect(try store.prepareRollups().isEmpty)
        let extractor = PayloadExtractor(catalog: Self.catalog)
        let now = Timestamp.parseISO8601("2025-06-01T00:00:00Z")!
        var remaining = specs[...]
        while !remaining.isEmpty {
            let batch = remaining.prefix(Int.random(in: 1...7, using: &rng))
            remaining = remaining.dropFirst(batch.count)
            let items: [WriteItem] = try batch.map { s in
                let bytes = Array(s.json.utf8)
                let facts = try extractor.extract(bytes, receivedAt: now)
                return .ping(PingRecord(facts: facts, receivedAt: now, payload: PayloadCodec.compress(bytes)))
            }
            _ = try store.write(items)
        }
        let admitted = try Self.admittedValues(db)
        #expect(admitted["container_registry_server.version", default: []].count <= 3)
        let expected = Self.reference(specs, admitted: admitted)
        let live = try store.rollupCells(metrics: nil)
        let missing = expected.filter { live[$0.key] != $0.value }
        let extra = live.filter { expected[$0.key] == nil }
        #expect(missing.isEmpty && extra.isEmpty,
                "seed \(seed): \(missing.count) cells differ or are missing, e.g. \(missing.first.map { "\($0.key) expected \($0.value) live \(String(describing: live[$0.key]))" } ?? "-"); \(extra.count) extra, e.g. \(extra.first.map { "\($0.key)" } ?? "-")")
        #expect(try store.verifyRollups(progress: nil).isClean)
    }

    static func admittedValues(_ db: TestDatabase) throws -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for r in try db.sql("SELECT metric, value FROM rollup_string_values") {
            result[r[0].string!, default: []].insert(r[1].string!)
        }
        return result
    }
}
