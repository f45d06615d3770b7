import Testing
@testable import PingRollCore

@Suite struct VersionAndTierTests {
    @Test func parsesGitLabVersions() throws {
        let v = try #require(GitLabVersion("16.5.1-ee"))
        #expect(v.major == 16 && v.minor == 5 && v.patch == 1 && v.isEE && v.majorMinor == "16.5")
        let pre = try #require(GitLabVersion("17.0.0-pre"))
        #expect(pre.majorMinor == "17.0" && !pre.isEE)
        #expect(GitLabVersion("15.11")?.patch == nil)
        #expect(GitLabVersion(" 15.11.13 ")?.minor == 11)
    }

    @Test(arguments: ["", "16", "sixteen.five", "16.x.1", "-1.2.3", "1.2.3.4.5"])
    func refusesVersionsWithoutMajorMinor(text: String) {
        #expect(GitLabVersion(text) == nil)
    }

    @Test func derivesTierFromEditionLikeGitLabsDataTeam() {
        #expect(Tier(edition: "CE") == .free)
        #expect(Tier(edition: "EE Free") == .free)
        #expect(Tier(edition: "EE") == .starter)
        #expect(Tier(edition: "EES") == .starter)
        #expect(Tier(edition: "EEP") == .premium)
        #expect(Tier(edition: "EEU") == .ultimate)
        #expect(Tier(edition: "Enterprise") == nil)
    }
}
