import Foundation
import PingRollCore
import PingRollStore

/// Realistic GitLab Service Ping payloads for benchmarks: real-looking key paths, thousands of
/// metrics, failure values sprinkled in, many installations, versions and installation types.
struct PingGenerator {
    var rng: SplitMix

    static let stages = ["configure", "create", "govern", "manage", "monitor", "package", "plan", "release", "secure", "verify"]
    static let categories = ["analytics", "ci_templates", "code_review", "deploy_token_packages", "ecosystem", "epics_usage", "ide_edit",
                             "incident_management", "issues_edit", "pipeline_authoring", "quickactions", "search", "snippets", "source_code", "testing"]
    static let words = ["projects", "merge_requests", "issues", "pipelines", "packages", "container_repositories", "deployments", "users",
                        "groups", "environments", "runners", "approvals", "templates", "notes", "boards", "labels", "milestones", "snippets"]
    static let types = ["omnibus-gitlab", "omnibus-gitlab", "omnibus-gitlab", "gitlab-helm-chart", "gitlab-helm-chart", "gitlab-operator", "source"]
    static let editions = ["CE", "EE Free", "EES", "EEP", "EEU"]

    /// Set for a weekly sequence: every value is a function of the installation, the value's
    /// place in the document and the week (counters grow week to week, most stay put).
    var weekly: (installation: Int, week: Int)?
    private var valueIndex = 0

    init(seed: UInt64) { rng = SplitMix(state: seed) }

    mutating func value() -> String {
        if let w = weekly {
            valueIndex += 1
            var h = SplitMix(state: UInt64(w.installation) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(valueIndex) &* 0xBF58_476D_1CE4_E5B9)
            let r = Int.random(in: 0..<1000, using: &h)
            switch r {
            case 0..<15: return "-1"
            case 15..<18: return "{\"-1\": -1}"
            case 18..<500: return "0"
            default:
                let base = Int.random(in: 1...200_000, using: &h)
                // Two in five counters grow, by up to 2 % of their base a week.
                let growth = Int.random(in: 0..<5, using: &h) < 2 ? Int.random(in: 0...(base / 50 + 1), using: &h) : 0
                return String(base + growth * w.week)
            }
        }
        let r = Int.random(in: 0..<1000, using: &rng)
        switch r {
        case 0..<15: return "-1"
        case 15..<18: return "{\"-1\": -1}"
        case 18..<20: return "-2"
        case 20..<500: return "0"
        default: return String(Int.random(in: 1...200_000, using: &rng))
        }
    }

    /// One ping of about `bytes` bytes (at least ~2 KB) for installation `index`.
    mutating func ping(index: Int, installations: Int, bytes: Int, recordedAt: Timestamp, uuid: String? = nil) -> String {
        valueIndex = 0
        let inst = index % max(installations, 1)
        let minor = 3 + inst % 9
        let edition = Self.editions[inst % Self.editions.count]
        var out = "{\"recorded_at\":\"\(recordedAt)\",\"uuid\":\"\(uuid ?? String(format: "%08x-0000-4000-8000-%012x", inst, inst))\","
        out += "\"hostname\":\"gitlab-\(inst).example.com\",\"version\":\"16.\(minor).\(inst % 4)\(edition == "CE" ? "" : "-ee")\","
        out += "\"installation_type\":\"\(Self.types[inst % Self.types.count])\",\"edition\":\"\(edition)\",\"active_user_count\":\(inst % 5000 + 1),"
        out += "\"license_md5\":\"\(String(format: "%032x", inst))\",\"container_registry_enabled\":\(inst % 6 != 0),"
        out += "\"container_registry_server\":{\"vendor\":\"\(inst % 13 == 0 ? "other" : "gitlab")\",\"version\":\"3.\(80 + minor).0-gitlab\"\(minor >= 5 ? ",\"db_enabled\":\(inst % 3 == 0)" : "")},"
        out += "\"database\":{\"adapter\":\"postgresql\",\"version\":\"14.\(inst % 10)\",\"flavor\":\"PostgreSQL\"},\"gitaly\":{\"version\":\"16.\(minor).0\",\"servers\":\(1 + inst % 3),\"clusters\":0},"
        out += "\"settings\":{\"ldap_encrypted_secrets_enabled\":false,\"operating_system\":\"ubuntu-22.04\",\"gitaly_apdex\":0.99\(inst % 10)},"
        out += "\"topology\":{\"duration_s\":0.0\(inst % 9 + 1),\"nodes\":[{\"node_memory_total_bytes\":33269903360,\"node_cpus\":8,\"node_services\":[{\"name\":\"web\",\"process_count\":16},{\"name\":\"registry\",\"process_count\":1}]}]}"
        let budget = max(0, bytes - out.utf8.count - 200)
        let perSection = budget / 6
        func section(_ name: String, _ body: (inout PingGenerator, inout String, Int) -> Void) {
            out += ",\"\(name)\":{"
            body(&self, &out, perSection)
            out += "}"
        }
        func metrics(_ g: inout PingGenerator, _ s: inout String, _ size: Int, _ prefix: String, _ suffix: String = "") {
            let start = s.utf8.count
            var i = 0
            while s.utf8.count - start < size {
                if i > 0 { s += "," }
                s += "\"\(prefix)\(Self.words[i % Self.words.count])_\(i)\(suffix)\":\(g.value())"
                i += 1
            }
        }
        section("counts") { g, s, size in metrics(&g, &s, size, "") }
        section("counts_monthly") { g, s, size in metrics(&g, &s, size, "monthly_") }
        for key in ["usage_activity_by_stage", "usage_activity_by_stage_monthly"] {
            section(key) { g, s, size in
                for (n, stage) in Self.stages.enumerated() {
                    if n > 0 { s += "," }
                    s += "\"\(stage)\":{"
                    metrics(&g, &s, size / Self.stages.count, "\(stage)_")
                    if stage == "package" { s += ",\"projects_with_packages\":\(inst % 40)" }
                    s += "}"
                }
            }
        }
        section("redis_hll_counters") { g, s, size in
            for (n, category) in Self.categories.enumerated() {
                if n > 0 { s += "," }
                s += "\"\(category)\":{"
                let start = s.utf8.count
                var i = 0
                while s.utf8.count - start < size / Self.categories.count {
                    if i > 0 { s += "," }
                    s += "\"i_\(category)_event_\(i)_weekly\":\(g.value()),\"i_\(category)_event_\(i)_monthly\":\(g.value())"
                    i += 1
                }
                s += "}"
            }
        }
        section("counts_weekly") { g, s, size in metrics(&g, &s, size, "weekly_") }
        return out + "}"
    }
}


func stringOption(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

/// `generate --count N --bytes B [--installations K] [--template]`: NDJSON pings on stdout, or one
/// payload with `__UUID__` in place of the uuid (for the load scripts).
func generate() {
    let count = option("--count", 1), bytes = option("--bytes", 150_000), installations = option("--installations", 10_000)
    var g = PingGenerator(seed: UInt64(option("--seed", 1)))
    let base = Timestamp.parseISO8601("2024-01-01T00:00:00Z")!.milliseconds
    let template = CommandLine.arguments.contains("--template")
    let out = FileHandle.standardOutput
    for i in 0..<count {
        let at = Timestamp(milliseconds: base + Int64(i / max(installations, 1)) * 7 * 86_400_000 + Int64(i % 86_400) * 1000)
        let line = g.ping(index: i, installations: installations, bytes: bytes, recordedAt: at, uuid: template ? "__UUID__" : nil)
        out.write(Data((line + (template ? "" : "\n")).utf8))
    }
    _ = out
}

/// `extract --file F.ndjson`: the extractor alone over every line of an NDJSON file, in pings/s
/// (the ceiling `pingroll import` of the same file is measured against).
func extractFile(_ path: String) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let lines = Array(data).split(separator: UInt8(ascii: "\n")).map(Array.init)
    let extractor = PayloadExtractor(catalog: findCatalog())
    let start = Date()
    var ok = 0
    for line in lines where (try? extractor.extract(line, receivedAt: .now())) != nil { ok += 1 }
    let seconds = Date().timeIntervalSince(start)
    print(#"{"bench":"extract-file","pings":\#(ok),"pings_per_s":\#(Int(Double(ok) / seconds)),"mb_s":\#(Int(Double(data.count) / seconds / 1e6))}"#)
}

/// `extract [--bytes B]`: the payload extractor's MB/s next to Foundation's JSONSerialization on the same bytes.
func extractSpeed() throws {
    if let file = stringOption("--file") { return try extractFile(file) }
    let bytes = option("--bytes", 150_000), seconds = Double(option("--millis", 2000)) / 1000
    var g = PingGenerator(seed: 7)
    let payload = Array(g.ping(index: 1, installations: 10, bytes: bytes, recordedAt: .now()).utf8)
    let extractor = PayloadExtractor(catalog: findCatalog())
    func measure(_ body: () throws -> Void) rethrows -> Double {
        var n = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds { try body(); n += 1 }
        return Double(n * payload.count) / Date().timeIntervalSince(start) / 1e6
    }
    let ours = try measure { _ = try extractor.extract(payload, receivedAt: .now()) }
    let data = Data(payload)
    let foundation = try measure { _ = try JSONSerialization.jsonObject(with: data) }
    let compressed = PayloadCodec.compress(payload)
    let zstd = measure { _ = PayloadCodec.compress(payload) }
    if CommandLine.arguments.contains("--levels") {
        for level: Int32 in [-5, -3, -1, 1, 3, 6] {
            let size = PayloadCodec.compress(payload, level: level).bytes.count
            let speed = measure { _ = PayloadCodec.compress(payload, level: level) }
            print(String(format: "zstd level %2d: %5.0f MB/s, ratio %.2f", level, speed, Double(payload.count) / Double(size)))
        }
    }
    print(String(format: "payload %d bytes: extractor %.0f MB/s, JSONSerialization %.0f MB/s (%.1f×); zstd-1 %.0f MB/s, ratio %.1f",
                 payload.count, ours, foundation, ours / foundation, zstd, Double(payload.count) / Double(compressed.bytes.count)))
    print(#"{"bench":"extract","bytes":\#(payload.count),"extractor_mb_s":\#(Int(ours)),"jsonserialization_mb_s":\#(Int(foundation)),"zstd1_mb_s":\#(Int(zstd)),"zstd1_ratio":\#(String(format: "%.2f", Double(payload.count) / Double(compressed.bytes.count)))}"#)
}
