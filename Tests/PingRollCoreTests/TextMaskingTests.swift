import PingRollCore
import Testing

@Suite struct TextMaskingTests {
    @Test(arguments: [
        ("mail ann.lee+beta@example.co.uk now", "mail <email> now"),
        ("see https://gitlab.example.com/x?y=1, then", "see <url>, then"),
        ("dial tcp 10.0.0.5:443: i/o timeout", "dial tcp <host>: i/o timeout"),
        ("host registry.internal.example.com refused", "host <host> refused"),
        ("(/var/opt/gitlab/registry) missing", "(<path>) missing"),
        ("s3://bucket/docker/registry/v2 and gs://b/x", "<url> and <url>"),
        ("bucket acme/docker/registry/v2 denied", "bucket <path> denied"),
        ("version 16.5.1 read/write error", "version 16.5.1 read/write error"),
        ("C:\\registry\\data locked", "<path> locked"),
        ("", ""),
        ("plain words only.", "plain words only."),
    ])
    func personalAndPlaceDataIsMaskedAndTheRestKept(text: String, masked: String) {
        #expect(TextMasking.mask(text) == masked)
    }

    @Test func everyOccurrenceInALongTextIsMasked() {
        let text = String(repeating: "ann@corp.example a.b.c.d@x.y/z ", count: 20_000)
        #expect(TextMasking.mask(text) == String(repeating: "<email> a.b.c.d@x.y/z ", count: 20_000))
    }
}
