import Foundation
import Testing
import PingRollCore

/// A fleet of installations built from GitLab's own metric definitions posts six weeks of pings
/// (late, duplicated, out of order) to a real `pingroll serve`; every catalog metric's weekly
/// series must equal a recompute written here from the rules (latest ping per installation and
/// week, internal installations left out, value-aware db_enabled, optional metrics off, licence
/// expiry), reading the catalog's JSON itself and sharing no code with pingroll's extractor or
/// rollups.
@Suite struct FleetTests {
    static let weekStarts = ["2025-09-01", "2025-09-08", "2025-09-15", "2025-09-22", "2025-09-29", "2025-10-06"]
    static let versionTrack = ["15.11.13", "16.4.6", "16.5.4", "16.11.2", "17.3.1", "17.8.0"]

    struct Ping {
        var instance: Int
        var week: Int
        var recordedAt: Int64
        var body: J
    }

    static func fleet(_ rng: inout SplitMix) -> [GitLabCorpus.Instance] {
        let editions = ["CE", "EEP", "EEU", "EES", "EE Free", "EEP", "CE", "EEU"]
        let types = ["omnibus-gitlab", "gitlab-helm-chart", "docker", "gitlab-operator", "source"]
        let flavors: [String?] = [nil, "PostgreSQL on Amazon RDS", "Cloud SQL for PostgreSQL", "Amazon Aurora PostgreSQL"]
        return (0..<48).map { i in
            let edition = editions[i % editions.count]
            let licensed = edition != "CE" && edition != "EE Free"
            let start = i % 4, upgrade = 1 + i % 5
            let versions = (0..<weekStarts.count).map { w in versionTrack[min(versionTrack.count - 1, start + (w >= upgrade ? 1 : 0))] }
            let registry: [GitLabCorpus.Registry] = (0..<weekStarts.count).map { w in
                switch i % 6 {
                case 0: .disabled
                case 1: .gitlab(db: w >= 3)       // adopts the metadata database in week 3
                case 2: .gitlab(db: true)
                case 3: .thirdParty
                case 4: .gitlab(db: nil)          // GitLab could not ask the registry
                default: .gitlab(db: false)
                }
            }
            var instance = GitLabCorpus.Instance(
                uuid: "fleet-\(i)", hostname: "gitlab-\(i).example.org", edition: edition, installationType: types[i % types.count],
                optionalMetrics: !licensed || !(i % 4 == 2 || i % 12 == 1), registry: registry,
                licenseExpiresAt: licensed ? (i % 7 == 0 ? "2025-09-20" : i % 7 == 1 ? "2024-12-31" : "2027-01-01") : nil,
                flavor: flavors[i % flavors.count], geo: edition != "CE" && i % 5 == 0, versions: versions)
            // GitLab's own: an ops host, a development kit, GitLab.com itself.
            if i == 45 { instance.hostname = "ops.gitlab.com" }
            if i == 46 { instance.installationType = "gitlab-development-kit" }
            if i == 47 { instance.uuid = "ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f"; instance.hostname = "gitlab.com" }
            return instance
        }
    }

    /// The posts in arrival order: weekly pings, some weeks skipped, an earlier ping in some
    /// weeks, resent duplicates and same-instant pings with other content, shuffled.
    static func posts(_ corpus: GitLabCorpus, _ fleet: [GitLabCorpus.Instance], _ rng: inout SplitMix) -> [Ping] {
        var posts: [Ping] = []
        for (i, instance) in fleet.enumerated() {
            for w in weekStarts.indices where (i + w) % 11 != 0 {
                let monday = days(isoDate: weekStarts[w])! * 86_400_000
                var instants = [monday + Int64(i % 6) * 86_400_000 + Int64(3 + i % 12) * 3_600_000]
                if (i + w) % 5 == 0 { instants.append(monday + 3_600_000) }
                for at in instants {
                    let text = Timestamp(milliseconds: at).description
                    posts.append(Ping(instance: i, week: w, recordedAt: at, body: corpus.payload(instance, week: w, recordedAt: text, rng: &rng)))
                }
            }
        }
        for _ in 0..<40 { posts.append(posts.randomElement(using: &rng)!) }
        for _ in 0..<10 {
            var copy = posts.randomElement(using: &rng)!
            let instance = fleet[copy.instance]
            copy.body = corpus.payload(instance, week: copy.week, recordedAt: Timestamp(milliseconds: copy.recordedAt).description, rng: &rng)
            copy.body.set(["active_user_count"], .number("424242"))
            posts.append(copy)
        }
        posts.shuffle(using: &rng)
        return posts
    }

    // MARK: - The recompute, from the rules

    static func isInternal(_ p: J) -> Bool {
        guard case .string(let uuid)? = p.at("uuid"), case .string(let host)? = p.at("hostname") else { return false }
        if case .string("gitlab-development-kit")? = p.at("installation_type") { return true }
        let h = host.lowercased()
        return uuid == "ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f" || h == "gitlab.com" || h.hasSuffix(".gitlab.com")
    }

    static func categories(_ p: J) -> Set<String>? {
        guard case .array(let items)? = p.at("settings.collected_data_categories") else { return nil }
        var result = Set<String>()
        for item in items {
            guard case .string(let s) = item else { return nil }
            result.insert(s.lowercased())
        }
        return result
    }

    static func holds(_ condition: [String: Any], _ p: J) -> Bool {
        let value = p.at(condition["key_path"] as! String)
        switch (condition["equals"], value) {
        case (let want as Bool, .bool(let got)?): return want == got
        case (let want as String, .string(let got)?): return want == got
        case (let want as NSNumber, .number(let got)?): return Double(got) == want.doubleValue
        default: return false
        }
    }

    /// The cell a ping counts in for a catalog metric, and the number it adds to the sum.
    static func cell(_ metric: [String: Any], _ p: J) -> (String, Double) {
        func all(_ name: String) -> Bool { ((metric[name] as? [[String: Any]]) ?? []).allSatisfy { holds($0, p) } }
        guard all("when") else { return ("unknown", 0) }
        let key = metric["key_path"] as! String
        guard let value = p.at(key) else {
            if let category = metric["data_category"] as? String, let collected = categories(p), !collected.contains(category) {
                return ("not_collected", 0)
            }
            return ("unknown", 0)
        }
        let failed: Bool
        switch value {
        case .number(let n): failed = ["-1", "-2", "-1000"].contains(n)
        case .object(let members): failed = members.count == 1 && members[0].0 == "-1" && members[0].1 == .number("-1")
        default: failed = false
        }
        switch metric["value_type"] as! String {
        case "boolean":
            guard case .bool(let b) = value, all(b ? "when_true" : "when_false") else { return ("unknown", 0) }
            return (b ? "true" : "false", 0)
        case "number":
            if failed { return ("failed", 0) }
            guard case .number(let n) = value, let d = Double(n) else { return ("unknown", 0) }
            return abs(d) <= 9_007_199_254_740_992 ? ("reporting", d) : ("out_of_range", 0)
        default:
            if failed { return ("failed", 0) }
            guard case .string(let s) = value, !s.isEmpty else { return ("unknown", 0) }
            return ("v:" + s, 0)
        }
    }

    static func tier(_ p: J) -> String {
        guard case .string(let edition)? = p.at("edition") else { return "unknown" }
        let tiers = ["CE": "free", "EE Free": "free", "EE": "starter", "EES": "starter", "EEP": "premium", "EEU": "ultimate"]
        guard let tier = tiers[edition] else { return "unknown" }
        if tier != "free", case .string(let expires)? = p.at("license_expires_at"), case .string(let recorded)? = p.at("recorded_at"),
           let e = days(isoDate: expires), e * 86_400_000 < Timestamp.parseISO8601(recorded)!.milliseconds {
            return "free"
        }
        return tier
    }

    static func optionalMetrics(_ p: J) -> String {
        categories(p).map { $0.contains("optional") ? "collected" : "not_collected" } ?? "unknown"
    }

    /// Each installation's latest stored ping per week (the first arrival of an instant wins).
    static func latest(_ posts: [Ping]) -> [Int: [Int: Ping]] {
        var stored: [String: Ping] = [:]
        for p in posts {
            let key = "\(p.instance)|\(p.recordedAt)"
            if stored[key] == nil { stored[key] = p }
        }
        var latest: [Int: [Int: Ping]] = [:]
        for p in stored.values where (latest[p.week]?[p.instance]?.recordedAt ?? .min) < p.recordedAt {
            latest[p.week, default: [:]][p.instance] = p
        }
        return latest
    }

    static let backends: [String] = ["sqlite"] + (ProcessInfo.processInfo.environment["PINGROLL_TEST_POSTGRES_URL"] != nil ? ["postgres"] : [])

    @Test(arguments: backends)
    func aFleetBuiltFromGitLabsDefinitionsRollsUpExactlyAsTheRulesSay(backend: String) throws {
        let corpus = try GitLabCorpus.load()
        #expect(corpus.definitions.count >= 100, "the corpus holds \(corpus.definitions.count) real key paths")
        var rng = SplitMix(state: 11)
        let fleet = Self.fleet(&rng)
        let posts = Self.posts(corpus, fleet, &rng)
        let schema = backend == "postgres" ? try PostgresEndToEndTests.Schema() : nil
        let server = try ServerProcess(database: schema?.url)
        defer { server.cleanUp() }
        let http = server.client()
        for p in posts {
            let r = try http.postJSON("/usage_data", p.body.text)
            #expect(r.status == 201, "\(r.text)")
        }
        let (status, output) = try server.runCommand(["token", "create", "--role", "viewer", "--name", "fleet"])
        #expect(status == 0)
        let auth = [("Authorization", "Bearer \(try #require(output.split(separator: "\n").last))")]
        let catalog = try #require(try JSONSerialization.jsonObject(with: Data(ShippedDefaults.catalogJSON.utf8)) as? [String: Any])
        let metrics = try #require(catalog["metrics"] as? [[String: Any]])
        let latest = Self.latest(posts)
        let range = "&interval=week&from=\(Self.weekStarts.first!)&to=\(Self.weekStarts.last!)"

        func series(_ query: String) throws -> [String: [[String: Any]]] {
            let r = try http.request("GET", "/api/v1/series?" + query + range, headers: auth)
            #expect(r.status == 200, "\(query): \(r.text)")
            var result: [String: [[String: Any]]] = [:]
            for s in (r.json?["series"] as? [[String: Any]]) ?? [] { result[s["group"] as! String] = s["points"] as? [[String: Any]] }
            return result
        }

        func checkEveryMetric(_ phase: String) throws {
            var mismatches: [String] = []
            for metric in metrics {
                let key = metric["key_path"] as! String, type = metric["value_type"] as! String
                guard ((metric["periods"] as? [String]) ?? ["week"]).contains("week") else { continue }
                let points = try #require(try series("metric=" + key)["all"], "\(key)")
                for (w, point) in points.enumerated() {
                    var expected: [String: Double] = ["installations": 0]
                    var values: [String: Int] = [:]
                    for ping in (latest[w] ?? [:]).values where !Self.isInternal(ping.body) {
                        expected["installations", default: 0] += 1
                        let (cell, number) = Self.cell(metric, ping.body)
                        if cell.hasPrefix("v:") {
                            // The API's key rule: a real value that reads like a cell, starts with v: or is empty is listed as v:VALUE.
                            let value = String(cell.dropFirst(2))
                            let escaped = value.isEmpty || value.hasPrefix("v:") || ["other", "failed", "unknown", "not_collected", "installations"].contains(value)
                            values[escaped ? "v:" + value : value, default: 0] += 1
                        } else {
                            expected[cell, default: 0] += 1
                        }
                        if cell == "reporting" { expected["sum", default: 0] += number }
                    }
                    let fields: [String] = switch type {
                    case "boolean": ["installations", "true", "false", "unknown", "not_collected"]
                    case "number": ["installations", "reporting", "failed", "unknown", "out_of_range", "not_collected", "sum"]
                    default: ["installations", "failed", "unknown", "not_collected"]
                    }
                    for field in fields where (point[field] as? NSNumber)?.doubleValue != expected[field, default: 0] {
                        mismatches.append("\(key) week \(w) \(field): served \(point[field] ?? "nil"), recomputed \(expected[field, default: 0])")
                    }
                    if type == "string", (point["values"] as? [String: Int]) ?? [:] != values {
                        mismatches.append("\(key) week \(w) values: served \(point["values"] ?? "nil"), recomputed \(values)")
                    }
                }
            }
            #expect(mismatches.isEmpty, "\(phase): \(mismatches.count) mismatches, e.g. \(mismatches.prefix(5))")
        }
        try checkEveryMetric("live rollups")

        // Tiers (licence expiry, and no edition at all when optional metrics are off), the
        // optional-metrics dimension, and internal installations only when asked for.
        let groupings: [(String, (J) -> String)] = [("tier", Self.tier), ("optional_metrics", Self.optionalMetrics)]
        for (dimension, group) in groupings {
            let served = try series("metric=container_registry_enabled&group_by=" + dimension)
            for w in Self.weekStarts.indices {
                var expected: [String: Int] = [:]
                for ping in (latest[w] ?? [:]).values where !Self.isInternal(ping.body) { expected[group(ping.body), default: 0] += 1 }
                let got = served.compactMapValues { ($0[w]["installations"] as? Int).flatMap { $0 > 0 ? $0 : nil } }
                #expect(got == expected, "\(dimension) week \(w): served \(got), recomputed \(expected)")
            }
        }
        let withInternal = try series("metric=container_registry_enabled&include_internal=true")["all"] ?? []
        #expect(withInternal.enumerated().allSatisfy { $0.element["installations"] as? Int == latest[$0.offset]?.count },
                "include_internal counts every installation")

        // The headline, spelled out: on = registry enabled and db_enabled true (with or without
        // a vendor); off = db_enabled false from GitLab's registry only.
        let adoption = try series("metric=container_registry_server.db_enabled")["all"] ?? []
        for (w, point) in adoption.enumerated() {
            let pings = (latest[w] ?? [:]).values.filter { !Self.isInternal($0.body) }
            let on = pings.filter { $0.body.at("container_registry_enabled") == .bool(true) && $0.body.at("container_registry_server.db_enabled") == .bool(true) }
            let off = pings.filter {
                $0.body.at("container_registry_enabled") == .bool(true) && $0.body.at("container_registry_server.db_enabled") == .bool(false)
                    && $0.body.at("container_registry_server.vendor") == .string("gitlab")
            }
            #expect(point["true"] as? Int == on.count && point["false"] as? Int == off.count, "week \(w): \(point)")
            let withoutVendor = on.filter { $0.body.at("container_registry_server.vendor") == nil }
            if w >= 2 { #expect(!withoutVendor.isEmpty, "the fleet has instances with optional metrics off that report db_enabled true") }
        }

        // A rebuild from the raw payloads and a verify agree with the live rollups.
        let verify = try server.runCommand(["rollup", "verify"])
        #expect(verify.0 == 0, "\(verify.1)")
        let rebuild = try server.runCommand(["rollup", "rebuild"])
        #expect(rebuild.0 == 0, "\(rebuild.1)")
        try checkEveryMetric("after rollup rebuild")
    }
}
