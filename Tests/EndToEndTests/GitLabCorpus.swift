import Foundation
import PingRollCore

/// A JSON document the corpus builds, kept typed so the test's own recompute reads exactly
/// what was posted (booleans stay booleans, numbers keep their text).
indirect enum J: Equatable {
    case object([(String, J)])
    case array([J])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func == (a: J, b: J) -> Bool { a.text == b.text }

    var text: String {
        switch self {
        case .object(let members):
            return "{" + members.map { Self.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .string(let s): return Self.quote(s)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The value at a dotted key path, nil when absent.
    func at(_ keyPath: String) -> J? {
        var node = self
        for segment in keyPath.split(separator: ".") {
            guard case .object(let members) = node, let next = members.last(where: { $0.0 == segment })?.1 else { return nil }
            node = next
        }
        return node
    }

    /// Sets a value at a dotted key path, creating objects on the way.
    mutating func set(_ keyPath: [Substring], _ value: J) {
        guard case .object(var members) = self, let first = keyPath.first else { return }
        let key = String(first)
        if keyPath.count == 1 {
            members.removeAll { $0.0 == key }
            members.append((key, value))
        } else {
            var child = members.last(where: { $0.0 == key })?.1 ?? .object([])
            if case .object = child {} else { child = .object([]) }
            child.set(Array(keyPath.dropFirst()), value)
            members.removeAll { $0.0 == key }
            members.append((key, child))
        }
        self = .object(members)
    }
}

/// Builds Service Ping payloads from GitLab's own metric definitions
/// (`Fixtures/gitlab-metric-definitions.json`): real key paths at their real places, present
/// only from the milestone that introduced them and until the one that removed them, the
/// optional ones left out when an EE admin turned optional metrics off (as GitLab's
/// `ServicePing::BuildPayload` filters by `permitted_categories`), and the shapes GitLab sends
/// for `settings`, `topology`, the licence keys and the registry.
struct GitLabCorpus {
    struct Definition: Decodable {
        var key_path: String
        var value_type: String
        var data_category: String?
        var time_frame: String
        var milestone: String?
        var milestone_removed: String?
        var status: String
        var ee_only: Bool?
        var source: String
    }

    struct File: Decodable { var definitions: [Definition] }

    let definitions: [Definition]

    static func load() throws -> GitLabCorpus {
        let url = try Bundle.module.url(forResource: "gitlab-metric-definitions", withExtension: "json", subdirectory: "Fixtures")
            .orThrow("the corpus fixture is missing")
        return GitLabCorpus(definitions: try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).definitions)
    }

    enum Registry: Equatable {
        case disabled
        /// GitLab's registry; `db` nil when the registry could not be asked (GitLab writes the
        /// default `false` and no vendor).
        case gitlab(db: Bool?)
        case thirdParty
    }

    /// One installation of the fleet.
    struct Instance {
        var uuid: String
        var hostname: String
        /// CE, EE (starter), EES, EEP, EEU, or "EE Free" (EE without a licence).
        var edition: String
        var installationType: String
        /// Only EE with a licence can turn optional metrics off.
        var optionalMetrics: Bool
        var registry: [Registry]
        var licenseExpiresAt: String?
        var flavor: String?
        var geo: Bool
        /// The GitLab version it runs in each week.
        var versions: [String]

        var isEE: Bool { edition != "CE" }
        var licensed: Bool { isEE && edition != "EE Free" }
    }

    /// `major.minor` of a version or milestone; `<13.9` is before 13.9.
    static func release(_ text: String) -> (Int, Int) {
        var t = Substring(text)
        var before = false
        if t.hasPrefix("<") { before = true; t = t.dropFirst() }
        let parts = t.split(separator: "-")[0].split(separator: ".").compactMap { Int($0) }
        let (major, minor) = (parts.first ?? 0, parts.count > 1 ? parts[1] : 0)
        return before ? (minor == 0 ? (major - 1, 99) : (major, minor - 1)) : (major, minor)
    }

    static func atLeast(_ version: String, _ milestone: String) -> Bool { release(version) >= release(milestone) }

    /// Whether GitLab `version` of `instance` puts the definition into its payload.
    func sends(_ d: Definition, _ instance: Instance, version: String) -> Bool {
        if let m = d.milestone, !Self.atLeast(version, m) { return false }
        if let r = d.milestone_removed, Self.atLeast(version, r) { return false }
        if d.ee_only == true && !instance.isEE { return false }
        if instance.licensed && !instance.optionalMetrics {
            // BuildPayload keeps a metric only when its category is permitted; a definition
            // without a category counts as optional. (The Ruby-only catalog key paths, whose
            // definition files were not read, are kept.)
            let category = d.data_category ?? (d.source.contains("config/metrics") ? "optional" : nil)
            if category == "optional" { return false }
        }
        return true
    }

    /// The payload `instance` posts in week `week` at `recordedAt`.
    func payload(_ instance: Instance, week: Int, recordedAt: String, rng: inout SplitMix) -> J {
        let version = instance.versions[week]
        let registry = instance.registry[week]
        var doc = J.object([])
        func put(_ keyPath: String, _ value: J) { doc.set(keyPath.split(separator: "."), value) }
        let seed = instance.uuid.utf8.reduce(UInt64(week)) { ($0 &* 31) &+ UInt64($1) }
        for d in definitions where sends(d, instance, version: version) {
            put(d.key_path, value(d, instance, week: week, version: version, registry: registry, seed: seed, rng: &rng))
        }
        // Identity: GitLab always sends these (standard category).
        put("uuid", .string(instance.uuid))
        put("hostname", .string(instance.hostname))
        put("recorded_at", .string(recordedAt))
        put("version", .string(version + (instance.isEE ? "-ee" : "")))
        if instance.licensed {
            // ee/lib/ee/gitlab/usage_data.rb license_usage_data
            put("license_md5", .string(String(repeating: "a1", count: 16)))
            put("license_id", .number("\(1000 + Int(seed % 9000))"))
            put("license_plan", .string(["EES": "starter", "EEP": "premium", "EEU": "ultimate", "EE": "starter"][instance.edition] ?? "premium"))
            put("license_user_count", .number("\(100 + Int(seed % 900))"))
            put("license_starts_at", .string("2023-01-01"))
            put("license_expires_at", instance.licenseExpiresAt.map(J.string) ?? .null)
            put("license_trial", .bool(false))
        }
        // The registry section (lib/gitlab/usage_data.rb): present with the registry enabled;
        // its vendor and version are optional metrics, db_enabled operational (16.5+).
        if case .object(var members) = doc.at("container_registry_server") ?? .object([]) {
            switch registry {
            case .disabled: members = []
            case .gitlab(let db):
                if db == nil { members.removeAll { $0.0 == "vendor" || $0.0 == "version" } }
                if let i = members.firstIndex(where: { $0.0 == "db_enabled" }) { members[i].1 = .bool(db ?? false) }
            case .thirdParty:
                if let i = members.firstIndex(where: { $0.0 == "db_enabled" }) { members[i].1 = .bool(false) }
            }
            if members.isEmpty { doc.removeTopLevel("container_registry_server") } else { put("container_registry_server", .object(members)) }
        }
        return doc
    }

    func value(_ d: Definition, _ instance: Instance, week: Int, version: String, registry: Registry, seed: UInt64,
               rng: inout SplitMix) -> J {
        let growth = Int(seed % 50) + week * Int(1 + seed % 7)
        switch d.key_path {
        case "container_registry_enabled": return .bool(registry != .disabled)
        case "container_registry_server.vendor":
            switch registry {
            case .gitlab: return .string("gitlab")
            case .thirdParty: return .string("other")
            case .disabled: return .string("")
            }
        case "container_registry_server.version":
            return .string(registry == .thirdParty ? "2.8.3" : ["3.85.0-gitlab", "3.93.0-gitlab", "4.5.0-gitlab", "4.14.0-gitlab"][Int(seed % 4)])
        case "container_registry_server.db_enabled": return .bool(false)  // set from the registry in payload()
        case "active_user_count": return .number("\(10 + growth * 3)")
        case "installation_type": return .string(instance.installationType)
        case "edition": return .string(instance.edition)
        case "database.flavor": return instance.flavor.map(J.string) ?? .null
        case "database.version": return .string(["14.11", "15.7", "16.4"][Int(seed % 3)])
        case "database.adapter": return .string("postgresql")
        case "database.mode": return .string("single-database-ci-connection")
        case "database.pg_system_id": return .number("\(7_000_000_000_000_000_000 + seed % 1_000_000)")  // real ids are ~7e18
        case "git.version": return .object([("major", .number("2")), ("minor", .number("4\(seed % 5)")), ("patch", .number("1"))])
        case "gitaly.version", "gitlab_pages.version": return .string(version + ".0")
        case "settings.collected_data_categories":
            return .array((instance.licensed && !instance.optionalMetrics ? ["standard", "subscription", "operational"]
                                                                          : ["standard", "subscription", "operational", "optional"]).map(J.string))
        case "settings.operating_system": return .string(["ubuntu-22.04", "el8", "debian-12"][Int(seed % 3)])
        case "settings.gitaly_apdex": return .number("0.99\(seed % 10)")
        case "topology":
            return .object([("duration_s", .number("0.0\(seed % 9 + 1)")), ("application_requests_per_hour", .number("\(growth * 100)")),
                            ("failures", .array([])),
                            ("nodes", .array([.object([("node_memory_total_bytes", .number("33692028928")), ("node_cpus", .number("8")),
                                                       ("node_services", .array([.object([("name", .string("web")), ("process_count", .number("16"))])]))])]))])
        case "installation_creation_date": return .string("2021-05-04T10:00:00.000Z")
        case "geo_enabled": return .bool(instance.geo)
        case "counts.geo_nodes": return .number(instance.geo ? "2" : "0")
        default: break
        }
        switch d.value_type {
        case "boolean": return .bool(seed % 3 == 0)
        case "string": return .string("value-\(seed % 4)")
        default:
            // A count; now and then GitLab's failure value for a query that timed out.
            if Int.random(in: 0..<40, using: &rng) == 0 { return .number("-1") }
            return .number("\(growth * Int(1 + seed % 11))")
        }
    }
}

extension J {
    mutating func removeTopLevel(_ key: String) {
        guard case .object(var members) = self else { return }
        members.removeAll { $0.0 == key }
        self = .object(members)
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw CorpusError(message: message) }
        return self
    }
}

struct CorpusError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

