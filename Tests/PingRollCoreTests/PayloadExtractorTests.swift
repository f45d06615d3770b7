import Foundation
import Testing
@testable import PingRollCore

@Suite struct PayloadExtractorTests {
    let extractor = PayloadExtractor()
    let now = Timestamp.parseISO8601("2025-01-01T00:00:00Z")!

    func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return Array(try Data(contentsOf: url))
    }

    func extract(_ json: String) throws(PayloadRejection) -> PingFacts {
        try extractor.extract(Array(json.utf8), receivedAt: now)
    }

    @Test(arguments: [
        ("EEP", "2024-01-01", "2024-12-15T10:00:00Z", Tier.free),      // expired before the ping
        ("EEP", "2026-01-01", "2024-12-15T10:00:00Z", Tier.premium),   // still valid
        ("EEU", "2024-12-15T09:00:00Z", "2024-12-15T10:00:00Z", Tier.free),
        ("EE", "", "2024-12-15T10:00:00Z", Tier.starter),             // no date: the edition decides
        ("EES", "not a date", "2024-12-15T10:00:00Z", Tier.starter),
        ("CE", "2020-01-01", "2024-12-15T10:00:00Z", Tier.free),
        ("EEP", String(repeating: "9", count: 5_000), "2024-12-15T10:00:00Z", Tier.premium),  // hostile: long, not a date
        ("EEP", "99999-01-01", "2024-12-15T10:00:00Z", Tier.premium),
        ("EEP", "-9223372036854775808", "2024-12-15T10:00:00Z", Tier.premium),
    ])
    func anExpiredLicenceCountsAsFree(edition: String, expires: String, recorded: String, tier: Tier) throws {
        let facts = try extract(#"{"uuid":"u","edition":"\#(edition)","license_expires_at":"\#(expires)","recorded_at":"\#(recorded)"}"#)
        #expect(facts.tier == tier)
        #expect(facts.edition == edition, "the edition is kept as sent")
    }

    @Test(arguments: [
        (#""hostname":"gitlab.com""#, true), (#""hostname":"GitLab.COM""#, true), (#""hostname":"ops.gitlab.com""#, true),
        (#""hostname":"gitlab.com.""#, true), (#""hostname":"staging.ops.gitlab.com""#, true),
        (#""hostname":"gitlab.company.com""#, false), (#""hostname":"gitlab.com.evil.org""#, false), (#""hostname":"mygitlab.com""#, false),
        (#""hostname":"x","installation_type":"gitlab-development-kit""#, true), (#""hostname":"x","installation_type":"omnibus-gitlab""#, false),
        (#""hostname":"x","uuid":"EA8BF810-1D6F-4A6A-B4FD-93E8CBD8B57F""#, true), (#""hostname":"x""#, false), ("", false),
    ])
    func gitlabsOwnInstallationsAreInternal(members: String, expected: Bool) throws {
        let facts = try extract(#"{"uuid":"u","# + (members.isEmpty ? "" : members + ",") + #""recorded_at":"2024-12-15T10:00:00Z"}"#)
        #expect(facts.isInternal == expected, "\(members)")
        #expect(RollupTuple(facts).isInternal == (expected ? "true" : "false"))
    }

    @Test(arguments: [
        (#"["standard","subscription","operational","optional"]"#, "operational,optional,standard,subscription", "collected"),
        (#"["Standard","Subscription","Operational","Optional"]"#, "operational,optional,standard,subscription", "collected"),
        (#"["standard","subscription","operational"]"#, "operational,standard,subscription", "not_collected"),
        (#"[" optional ","optional"]"#, "optional", "collected"),
        ("[]", "", "not_collected"),
        (#"["standard",3]"#, nil, "unknown"),
        (#""optional""#, nil, "unknown"),
        ("null", nil, "unknown"),
    ] as [(String, String?, String)])
    func collectedDataCategoriesBecomeTheOptionalMetricsDimension(list: String, stored: String?, dimension: String) throws {
        let facts = try extract(#"{"uuid":"u","recorded_at":"2024-12-15T10:00:00Z","settings":{"collected_data_categories":\#(list)}}"#)
        #expect(facts.dataCategoriesText == stored)
        #expect(RollupTuple(facts).optionalMetrics == dimension)
    }

    /// The payload the issue quotes: an EE instance with optional metrics off sends db_enabled
    /// (operational) without the vendor and version (optional).
    @Test func anInstanceWithOptionalMetricsOffCountsDbEnabledAndCannotReportTheVendor() throws {
        let catalog = try MetricCatalog(json: Array(ShippedDefaults.catalogJSON.utf8))
        let facts = try PayloadExtractor(catalog: catalog).extract(Array(#"""
            {"uuid":"u","recorded_at":"2024-12-15T10:00:00Z","edition":"EEP","container_registry_enabled":true,
             "container_registry_server":{"db_enabled":true},
             "settings":{"collected_data_categories":["standard","subscription","operational"]}}
            """#.utf8), receivedAt: now)
        #expect(facts.observations["container_registry_server.db_enabled"] == .bool(true))
        #expect(facts.observations["container_registry_server.vendor"] == .notCollected)
        #expect(facts.observations["container_registry_server.version"] == .notCollected)
        #expect(facts.observations["database.flavor"] == .notCollected)
        #expect(facts.observations["counts.geo_nodes"] == nil, "no data category in the catalog: unknown")
        #expect(ObservationCodec.decode(ObservationCodec.encode(facts.observations)) == facts.observations)
        // The same ping with optional metrics on and no vendor: the vendor is simply unknown.
        let on = try PayloadExtractor(catalog: catalog).extract(Array(#"""
            {"uuid":"u","recorded_at":"2024-12-15T10:00:00Z","container_registry_enabled":true,"container_registry_server":{},
             "settings":{"collected_data_categories":["standard","subscription","operational","optional"]}}
            """#.utf8), receivedAt: now)
        #expect(on.observations["container_registry_server.vendor"] == nil)
    }

    @Test func gitlab15CEOmnibusHasNoDbEnabled() throws {
        let f = try extractor.extract(try fixture("gitlab-15.11-ce-omnibus"), receivedAt: now)
        #expect(f.installation == InstallationKey(uuid: "2c6b0a0e-6a5b-4a3f-9b1c-15a1100ce0001", hostname: "gitlab.example.org"))
        #expect(f.recordedAt == Timestamp.parseISO8601("2023-08-14T09:21:44.123Z"))
        #expect(f.version == "15.11.13" && f.parsedVersion?.majorMinor == "15.11")
        #expect(f.edition == "CE" && f.tier == .free && f.isEE == false)
        #expect(f.installationType == "omnibus-gitlab")
        #expect(f.registryEnabled == true && f.registryVendor == "gitlab" && f.registryVersion == "3.60.2-gitlab")
        #expect(f.dbEnabled == nil)
    }

    @Test func gitlab164EEHelmNormalisesHostnameAndParsesRubyTime() throws {
        let f = try extractor.extract(try fixture("gitlab-16.4-ee-helm"), receivedAt: now)
        #expect(f.installation.hostname == "gitlab.corp.example.com")
        #expect(f.recordedAt == Timestamp.parseISO8601("2023-10-02T03:15:09Z"))
        #expect(f.tier == .premium && f.isEE == true && f.installationType == "gitlab-helm-chart")
        #expect(f.dbEnabled == nil)
    }

    @Test func gitlab165ReportsDbEnabled() throws {
        let f = try extractor.extract(try fixture("gitlab-16.5-ee-omnibus-db-enabled"), receivedAt: now)
        #expect(f.dbEnabled == true && f.tier == .ultimate && f.registryVersion == "3.85.0-gitlab")
        #expect(f.activeUserCount != nil)
    }

    @Test func registryOffKeepsTheReportedFalseAndEmptyVendor() throws {
        let f = try extractor.extract(try fixture("gitlab-16.8-ce-omnibus-registry-off"), receivedAt: now)
        #expect(f.registryEnabled == false && f.dbEnabled == false && f.registryVendor == "")
        #expect(f.registryVersion == nil)
        #expect(f.recordedAt == Timestamp.parseISO8601("2024-02-12T08:00:00Z"))
        #expect(f.isEE == false)
    }

    @Test func typeDriftAndFailureValuesBecomeUnknown() throws {
        let f = try extractor.extract(try fixture("gitlab-17.2-ee-helm-third-party-registry"), receivedAt: now)
        #expect(f.activeUserCount == nil)   // -1: the metric failed
        #expect(f.registryVersion == nil)   // a number where a string belongs
        #expect(f.registryVendor == "other" && f.dbEnabled == false)
        #expect(f.tier == .starter)
    }

    @Test func missingHostnameIsTheEmptyOne() throws {
        let f = try extract(#"{"uuid":" u1 ","recorded_at":"2024-01-01T00:00:00Z"}"#)
        #expect(f.installation == InstallationKey(uuid: "u1", hostname: ""))
        #expect(try extract(#"{"uuid":"u1","hostname":null,"recorded_at":"2024-01-01T00:00:00Z"}"#).installation.hostname == "")
    }

    @Test func eeFlagFallsBackToTheVersionSuffix() throws {
        #expect(try extract(#"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z","version":"16.1.0-ee"}"#).isEE == true)
        #expect(try extract(#"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z","version":"16.1.0"}"#).isEE == false)
        #expect(try extract(#"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z"}"#).isEE == nil)
    }

    @Test func hugeAndWrongTypedNumbersAreUnknownNotFatal() throws {
        let f = try extract(#"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z","active_user_count":1e999,"container_registry_enabled":"yes","container_registry_server":{"db_enabled":1}}"#)
        #expect(f.activeUserCount == nil && f.registryEnabled == nil && f.dbEnabled == nil)
        #expect(try extract(#"{"uuid":"u","recorded_at":"2024-01-01T00:00:00Z","active_user_count":99999999999999999999}"#).activeUserCount == nil)
    }

    @Test(arguments: [
        (#"{"recorded_at":"2024-01-01T00:00:00Z"}"#, "invalid_field", "uuid"),
        (#"{"uuid":"","recorded_at":"2024-01-01T00:00:00Z"}"#, "invalid_field", "uuid"),
        (#"{"uuid":42,"recorded_at":"2024-01-01T00:00:00Z"}"#, "invalid_field", "uuid"),
        (#"{"uuid":"u"}"#, "invalid_field", "recorded_at"),
        (#"{"uuid":"u","recorded_at":"last tuesday"}"#, "invalid_field", "recorded_at"),
        (#"{"uuid":"u","recorded_at":1704067200}"#, "invalid_field", "recorded_at"),
        (#"{"uuid":"u","hostname":["a"],"recorded_at":"2024-01-01T00:00:00Z"}"#, "invalid_field", "hostname"),
        (#"{"uuid":"u","recorded_at":"2025-01-02T00:00:01Z"}"#, "recorded_in_future", "recorded_at"),
        (#"[{"uuid":"u"}]"#, "not_an_object", "object"),
        (#"{"uuid":"u""#, "invalid_json", "byte"),
    ])
    func rejectsWithAPreciseReason(json: String, code: String, mentions: String) {
        #expect {
            _ = try extract(json)
        } throws: { error in
            guard let rejection = error as? PayloadRejection else { return false }
            return rejection.code == code && rejection.description.contains(mentions)
        }
    }

    @Test func acceptsRecordedAtUpToADayAhead() throws {
        _ = try extract(#"{"uuid":"u","recorded_at":"2025-01-02T00:00:00Z"}"#)
    }
}
