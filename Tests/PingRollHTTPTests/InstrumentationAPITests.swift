import Foundation
import Testing
import PingRollCore
@testable import PingRollHTTP
@testable import PingRollService
@testable import PingRollStore

/// `/api/v1/instrumentation/*` against a recompute from what the test posted.
@Suite struct InstrumentationAPITests {
    struct Entry { var name: String; var elapsed: Double?; var failed: Bool }

    static func metadataBody(uuid: String, _ entries: [Entry]) -> String {
        let items = entries.map { e -> String in
            var members = [#""name":"\#(e.name)""#]
            if let t = e.elapsed { members.append(#""time_elapsed":\#(t)"#) }
            if e.failed { members.append(#""error":"PG::QueryCanceled: ERROR:  canceling statement due to statement timeout""#) }
            return "{" + members.joined(separator: ",") + "}"
        }
        return #"{"metadata":{"uuid":"\#(uuid)","metrics":[\#(items.joined(separator: ","))]}}"#
    }

    static func nearestRank(_ values: [Double], _ p: Double) -> Double? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        return sorted[max(1, Int((p * Double(sorted.count)).rounded(.up))) - 1]
    }

    @Test func metricHealthCountsEachUUIDsLatestReportAsTheRecomputeDoes() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let token = try h.store.createToken(name: "v", role: .viewer).text
        let auth = [("Authorization", "Bearer \(token)")]
        var rng = SplitMix(state: 7)
        let names = ["counts.projects", "counts.packages", "redis_hll_counters.a", "redis_hll_counters.b", "usage_activity.x"]
        var latest: [String: [Entry]] = [:]
        var versionOf: [String: String] = [:]
        for round in 0..<3 {
            for u in 0..<9 {
                let uuid = "uuid-\(u)"
                if round == 0 {
                    let minor = [4, 5, 5][u % 3]
                    versionOf[uuid] = "16.\(minor)"
                    let ping = #"{"uuid":"\#(uuid)","recorded_at":"2024-01-0\#(1 + u % 5)T10:00:00Z","version":"16.\#(minor).1-ee"}"#
                    #expect(h.postJSON("/usage_data", ping).status == 201)
                }
                guard Int.random(in: 0..<3, using: &rng) > 0 || round == 0 else { continue }
                var entries: [Entry] = []
                for name in names where Int.random(in: 0..<10, using: &rng) < 7 {
                    let elapsed: Double? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : Double(Int.random(in: 0..<1000, using: &rng)) / 10
                    entries.append(Entry(name: name, elapsed: elapsed, failed: Int.random(in: 0..<5, using: &rng) == 0))
                }
                #expect(h.postJSON("/usage_ping_metadata", Self.metadataBody(uuid: uuid, entries)).status == 201)
                latest[uuid] = entries
            }
        }
        // A report without a uuid, and one that is not shaped as GitLab sends it, change nothing.
        #expect(h.postJSON("/usage_ping_metadata", #"{"metadata":{"metrics":[{"name":"counts.projects","error":"x"}]}}"#).status == 201)
        #expect(h.postJSON("/usage_ping_metadata", #"{"metadata":{"uuid":"odd","metrics":"none"}}"#).status == 201)
        h.drain()

        for version in [nil, "16.5", "16.4", "15.0"] as [String?] {
            var query: [(String, String)] = []
            if let version { query.append(("version", version)) }
            let r = h.send("GET", "/api/v1/instrumentation/metrics", query: query, headers: auth)
            #expect(r.status == 200, "\(r.text)")
            let got = (r.json?["metrics"] as? [[String: Any]]) ?? []
            // The recompute.
            var expected: [String: (installations: Int, errors: Int, times: [Double])] = [:]
            for (uuid, entries) in latest where version == nil || versionOf[uuid] == version {
                for e in entries {
                    var x = expected[e.name] ?? (0, 0, [])
                    x.installations += 1
                    if e.failed { x.errors += 1 }
                    if let t = e.elapsed { x.times.append(t) }
                    expected[e.name] = x
                }
            }
            #expect(got.count == expected.count, "version \(String(describing: version)): \(got.map { $0["name"] ?? "" })")
            for m in got {
                let name = try #require(m["name"] as? String)
                let x = try #require(expected[name], "\(name) listed but not expected")
                #expect(m["installations"] as? Int == x.installations && m["errors"] as? Int == x.errors, "\(name): \(m) vs \(x)")
                #expect(m["time_elapsed_p50"] as? Double == Self.nearestRank(x.times, 0.5) || (x.times.isEmpty && m["time_elapsed_p50"] is NSNull))
                #expect(m["time_elapsed_p95"] as? Double == Self.nearestRank(x.times, 0.95) || (x.times.isEmpty && m["time_elapsed_p95"] is NSNull))
                #expect(m["time_elapsed_max"] as? Double == x.times.max() || (x.times.isEmpty && m["time_elapsed_max"] is NSNull))
                #expect(abs((m["error_rate"] as? Double ?? -1) - Double(x.errors) / Double(x.installations)) < 1e-6)
            }
            // Sorted by errors, then p95, descending.
            let keys = got.map { ($0["errors"] as? Int ?? 0, $0["time_elapsed_p95"] as? Double ?? -1) }
            #expect(zip(keys, keys.dropFirst()).allSatisfy { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 >= $1.1) }, "\(keys)")
            #expect(!r.text.contains("hostname"), "no hostnames")
        }
        let prefixed = h.send("GET", "/api/v1/instrumentation/metrics", query: [("name", "redis_hll_counters.")], headers: auth)
        #expect(((prefixed.json?["metrics"] as? [[String: Any]]) ?? []).allSatisfy { ($0["name"] as? String ?? "").hasPrefix("redis_hll_counters.") })
        let limited = h.send("GET", "/api/v1/instrumentation/metrics", query: [("limit", "2")], headers: auth)
        #expect((limited.json?["metrics"] as? [Any])?.count == 2 && limited.json?["total"] as? Int == 5, "\(limited.text)")
        for (q, message) in [([("version", "16")], "`version`"), ([("version", "a.b")], "`version`"), ([("from", "2024-02-30")], "`from`"),
                             ([("limit", "0")], "`limit`"), ([("name", "")], "`name`")] as [([(String, String)], String)] {
            let bad = h.send("GET", "/api/v1/instrumentation/metrics", query: q, headers: auth)
            #expect(bad.status == 400 && bad.text.contains(message), "\(q): \(bad.text)")
        }
        #expect(h.send("GET", "/api/v1/instrumentation/metrics").status == 401)
    }

    @Test func submissionErrorsGroupByMessageWithoutTheirBacktraceLocation() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let token = try h.store.createToken(name: "v", role: .viewer).text
        func report(_ uuid: String?, _ version: String, _ message: String) {
            let uuidMember = uuid.map { #""uuid":"\#($0)","# } ?? ""
            let body = #"{"error":{\#(uuidMember)"hostname":"gitlab.secret.example","version":"\#(version)","message":"\#(message)","elapsed":12.5,"time":"2024-01-01T00:00:00Z"}}"#
            #expect(h.postJSON("/usage_ping_errors", body).status == 201)
        }
        let timeout = "Net::ReadTimeout"
        report("a", "16.5.1-ee", "\(timeout) at /opt/gitlab/embedded/lib/ruby/3.1.0/net/protocol.rb:219:in 'rbuf_fill'")
        report("a", "16.5.1-ee", "\(timeout) at /opt/gitlab/embedded/lib/ruby/3.1.0/net/protocol.rb:219:in 'rbuf_fill'")
        report("b", "16.6.0", "\(timeout) at /opt/gitlab/embedded/lib/ruby/3.2.0/net/protocol.rb:229:in 'rbuf_fill'")
        report(nil, "garbage", "\(timeout)   at /srv/gitlab/lib/net.rb:10")
        report("c", "16.6.0", "Usage data payload is blank at /opt/gitlab/app/services/service_ping/submit_service.rb:51:in 'submit_usage_data_payload'")
        report("d", "16.6.0", "Invalid usage_data_id in response: at the end")
        h.drain()
        let r = h.send("GET", "/api/v1/instrumentation/errors", headers: [("Authorization", "Bearer \(token)")])
        #expect(r.status == 200, "\(r.text)")
        let groups = try #require(r.json?["errors"] as? [[String: Any]])
        #expect(groups.count == 3, "\(groups)")
        let first = try #require(groups.first)
        #expect(first["message"] as? String == timeout && first["installations"] as? Int == 3 && first["reports"] as? Int == 4, "\(first)")
        #expect(first["versions"] as? [String: Int] == ["16.5": 2, "16.6": 1, "unknown": 1], "\(first)")
        #expect(groups.contains { $0["message"] as? String == "Usage data payload is blank" })
        #expect(groups.contains { $0["message"] as? String == "Invalid usage_data_id in response: at the end" }, "not a location: kept")
        #expect(!r.text.contains("secret.example"), "no hostnames")
        let days = try #require(r.json?["days"] as? [[String: Any]])
        #expect(days.count == 30 && days.last?["day"] as? String == isoDate(days: PeriodKind.day.start(of: .now()))
                && days.compactMap { $0["reports"] as? Int }.reduce(0, +) == 6, "\(days.suffix(2))")
        #expect(InstrumentationHealth.normalize("") == "(no message)")
        #expect(InstrumentationHealth.normalize(String(repeating: "x", count: 2000)).count == 500)
    }

    /// Names come from an unauthenticated route: a request tracks a bounded number of them.
    @Test func aFloodOfMadeUpMetricNamesIsCutAndSaidSo() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let token = try h.store.createToken(name: "v", role: .viewer).text
        // One report keeps at most MetadataEntries.maxNames of its names …
        let perReport = MetadataEntries.maxNames
        let one = (0..<(perReport + 10)).map { Entry(name: "flood.m\($0)", elapsed: 1, failed: false) }
        #expect(h.postJSON("/usage_ping_metadata", Self.metadataBody(uuid: "attacker-0", one)).status == 201)
        h.drain()
        let single = h.send("GET", "/api/v1/instrumentation/metrics", query: [("limit", "5")], headers: [("Authorization", "Bearer \(token)")])
        #expect(single.status == 200 && single.json?["total"] as? Int == perReport && single.json?["truncated"] as? Bool == false, "\(single.text.prefix(300))")
        // … and one view tracks at most InstrumentationHealth.maxNames over all reports.
        for r in 1...(InstrumentationHealth.maxNames / perReport) {
            let names = (0..<perReport).map { Entry(name: "flood.r\(r).m\($0)", elapsed: 1, failed: false) }
            #expect(h.postJSON("/usage_ping_metadata", Self.metadataBody(uuid: "attacker-\(r)", names)).status == 201)
        }
        h.drain()
        let r = h.send("GET", "/api/v1/instrumentation/metrics", query: [("limit", "5")], headers: [("Authorization", "Bearer \(token)")])
        #expect(r.status == 200 && r.json?["truncated"] as? Bool == true && r.json?["total"] as? Int == InstrumentationHealth.maxNames, "\(r.text.prefix(300))")
    }

    /// Reports stored as rows and reports stored before that (whose body is read) count alike.
    @Test func aReportStoredBeforeItsMetricsWereRowsCountsLikeANewOne() throws {
        let h = try ResponderHarness(catalog: APITests.catalog)
        let token = try h.store.createToken(name: "v", role: .viewer).text
        let entries = [Entry(name: "counts.a", elapsed: 2, failed: true), Entry(name: "counts.b", elapsed: nil, failed: false)]
        #expect(h.postJSON("/usage_ping_metadata", Self.metadataBody(uuid: "new", entries)).status == 201)
        var legacy = ClientReport(kind: .metadata, receivedAt: .now(), body: Self.metadataBody(uuid: "old", entries))
        legacy.uuid = "old"
        _ = try h.store.write([.clientReport(legacy)])
        h.drain()
        let r = h.send("GET", "/api/v1/instrumentation/metrics", headers: [("Authorization", "Bearer \(token)")])
        let metrics = try #require(r.json?["metrics"] as? [[String: Any]], "\(r.text)")
        let a = try #require(metrics.first { $0["name"] as? String == "counts.a" })
        #expect(a["installations"] as? Int == 2 && a["errors"] as? Int == 2, "\(a)")
        #expect(metrics.first { $0["name"] as? String == "counts.b" }?["installations"] as? Int == 2)
    }
}
