import Foundation
import Testing
@testable import PingRollCore

/// The skeleton/values split restores every document byte for byte, keeps keys and structure
/// in the skeleton only, and refuses (never traps on) what it cannot split.
@Suite struct JSONShapeTests {
    static func fixtures() throws -> [[UInt8]] {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
            .map { Array(try Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    func roundTrips(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let shape = try #require(JSONShape.split(bytes), sourceLocation: sourceLocation)
        #expect(try JSONShape.join(skeleton: shape.skeleton, values: shape.values, expectedSize: bytes.count) == bytes,
                sourceLocation: sourceLocation)
    }

    @Test func everyFixtureRoundTripsByteForByte() throws {
        let fixtures = try Self.fixtures()
        #expect(fixtures.count >= 5)
        for bytes in fixtures { try roundTrips(bytes) }
    }

    @Test func keysAndStructureStayInTheSkeletonAndValuesLeaveIt() throws {
        let a = try #require(JSONShape.split(Array(#"{"uuid":"a","n":1,"list":[true,null,"x"],"o":{"k":-2.5e3}}"#.utf8)))
        #expect(a.skeleton == Array(#"{"uuid":\#0,"n":\#0,"list":[\#0,\#0,\#0],"o":{"k":\#0}}"#.utf8))
        #expect(a.values == Array("\"a\"\u{0}1\u{0}true\u{0}null\u{0}\"x\"\u{0}-2.5e3\u{0}".utf8))
        // The next week's ping of the same shape shares the skeleton exactly.
        let b = try #require(JSONShape.split(Array(#"{"uuid":"bbbb","n":1234,"list":[false,1,"yy"],"o":{"k":0}}"#.utf8)))
        #expect(a.skeleton == b.skeleton && JSONShape.hash(a.skeleton) == JSONShape.hash(b.skeleton))
    }

    @Test func whitespaceEscapesAndTopLevelScalarsRoundTrip() throws {
        for text in [" { \"a\" :\t[ 1 , \"\\\"}\\\\\" ] }\r\n", "\"just a string\"", "42", "[]", "{}", "[[[]],{}]", "\"\\u0000\"", "{\"\":\"\"}"] {
            try roundTrips(Array(text.utf8))
        }
    }

    @Test func randomDocumentsRoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let object: [String: Any] = ["k": JSONScannerTests.randomValue(depth: 0, rng: &rng), "s": "é\u{1}"]
            try roundTrips(Array(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted])))
        }
    }

    /// Whatever the bytes: split either refuses or round-trips; join of damaged parts throws.
    @Test func randomBytesAndMutationsNeverTrapAndSplitOnlyWhatRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        let original = try Self.fixtures()[0]
        var split = 0
        for round in 0..<2_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] = [0, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
                }
            } else {
                bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in Array("{}[]\",:\\ a1\u{0}".utf8).randomElement(using: &rng)! }
            }
            if let shape = JSONShape.split(bytes) {
                split += 1
                #expect(try JSONShape.join(skeleton: shape.skeleton, values: shape.values) == bytes)
                if !shape.values.isEmpty {
                    #expect(throws: JSONShape.JoinError.self) { try JSONShape.join(skeleton: shape.skeleton, values: Array(shape.values.dropLast())) }
                    #expect(throws: JSONShape.JoinError.self) { try JSONShape.join(skeleton: shape.skeleton, values: shape.values + [0x31, 0]) }
                }
            }
        }
        #expect(split > 0)
    }

    @Test func documentsItCannotSplitAreRefused() {
        // A 0x00 anywhere, even escaped, would be read as a separator.
        for text in ["{\"a\":1", "[1}", "\"open", "{1:2}", "{\"a\":\"x\u{0}\"}", "]", "\"\\\u{0}\"", "{\"\\\u{0}\":1}"] {
            #expect(JSONShape.split(Array(text.utf8)) == nil, "\(text)")
        }
    }
}
