import Foundation
import Testing
@testable import PingRollCore

@Suite struct JSONScannerTests {
    let scanner = JSONScanner(paths: KeyPathSet(["a", "b.c", "b.d", "arr", "obj"]), maxDepth: 16)

    func scan(_ text: String) throws -> JSONScanner.Result { try scanner.scan(Array(text.utf8)) }

    func error(_ bytes: [UInt8]) -> JSONScanError.Kind? {
        do { _ = try scanner.scan(bytes); return nil } catch { return error.kind }
    }

    @Test func capturesScalarsAtRequestedPaths() throws {
        let r = try scan(#"{"a": "x\ny", "b": {"c": -12.5e3, "d": true, "z": [1, {"c": 9}]}, "c": 1}"#)
        #expect(r.topLevelIsObject)
        #expect(r.values[0] == .string("x\ny"))
        #expect(r.values[1] == .number(JSONNumber(text: "-12.5e3")))
        #expect(r.values[2] == .bool(true))
        #expect(r.values[3] == nil)
    }

    @Test func describesContainersAtRequestedPaths() throws {
        let r = try scan(#"{"arr": [1, [2, 3], {}], "obj": { "-1" : -1 }}"#)
        #expect(r.values[3] == .array(count: 3, compactText: "[1,[2,3],{}]"))
        #expect(r.values[4] == .object(compactText: #"{"-1":-1}"#))
        #expect(try scan(#"{"arr": []}"#).values[3] == .array(count: 0, compactText: "[]"))
    }

    @Test func shortStringArraysYieldTheirElements() throws {
        #expect(try scan(#"{"arr": [ "standard", "Opt\u0069onal" ]}"#).values[3]?.stringElements == ["standard", "Optional"])
        #expect(try scan(#"{"arr": ["a", 1]}"#).values[3]?.stringElements == nil)
        let long = "[" + Array(repeating: "\"abcdefgh\"", count: 40).joined(separator: ",") + "]"
        let r = try scan(#"{"arr": "# + long + "}")
        #expect(r.values[3] == .array(count: 40, compactText: nil))
        #expect(r.values[3]?.stringElements == nil)
    }

    @Test func doesNotDescendIntoArrays() throws {
        let r = try scan(#"{"b": [{"c": 1}]}"#)
        #expect(r.values[1] == nil)
    }

    @Test func lastDuplicateKeyWins() throws {
        #expect(try scan(#"{"a": "first", "a": "second"}"#).values[0] == .string("second"))
    }

    @Test func aRepeatedObjectKeyReplacesEverythingCapturedBelowIt() throws {
        let r = try scan(#"{"b": {"c": true, "d": 1}, "b": {"d": 2}}"#)
        #expect(r.values[1] == nil && r.values[2] == .number(JSONNumber(text: "2")))
        let scalar = try scan(#"{"b": {"c": true}, "b": 5}"#)
        #expect(scalar.values[1] == nil && scalar.values[2] == nil)
        let extractor = PayloadExtractor()
        let facts = try extractor.extract(Array(#"""
            {"uuid":"u","recorded_at":"2024-01-15T10:00:00Z","container_registry_server":{"db_enabled":true},
             "container_registry_server":{"vendor":"gitlab"}}
            """#.utf8), receivedAt: .now())
        #expect(facts.dbEnabled == nil && facts.registryVendor == "gitlab")
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let r = try scan(#"{"\u0061": "\u00e9\ud83d\ude00\/\"\\\b\f\r\t", "b": {"c": "\udc00"}}"#)
        #expect(r.values[0] == .string("é😀/\"\\\u{8}\u{c}\r\t"))
        #expect(r.values[1] == .string("\u{FFFD}"))
    }

    @Test func acceptsAnyTopLevelValueButReportsWhetherItIsAnObject() throws {
        #expect(try scan("[1,2]").topLevelIsObject == false)
        #expect(try scan(" 42 ").topLevelIsObject == false)
        #expect(try scan("\u{FEFF}{}").topLevelIsObject)
    }

    @Test(arguments: [
        ("", JSONScanError.Kind.empty),
        ("   ", .empty),
        ("{", .unexpectedEnd),
        (#"{"a" 1}"#, .unexpectedByte),
        (#"{"a": 1,}"#, .unexpectedByte),
        ("[1,]", .unexpectedByte),
        (#"{"a": 01}"#, .unexpectedByte),
        (#"{"a": -}"#, .invalidNumber),
        (#"{"a": 1.}"#, .invalidNumber),
        (#"{"a": 1e}"#, .invalidNumber),
        (#"{"a": .5}"#, .unexpectedByte),
        (#"{"a": tru}"#, .invalidLiteral),
        (#"{"a": nul"#, .invalidLiteral),
        (#"{"a": "\x"}"#, .invalidEscape),
        (#"{"a": "\u12G4"}"#, .invalidEscape),
        ("{\"a\": \"tab\there\"}", .controlCharacterInString),
        ("{} {}", .trailingData),
        ("{}x", .trailingData),
        (#"{"a": NaN}"#, .unexpectedByte),
        (#"{'a': 1}"#, .unexpectedByte),
        (#"{"a": "unterminated}"#, .unexpectedEnd),
    ])
    func rejectsMalformedJSON(text: String, kind: JSONScanError.Kind) {
        #expect(error(Array(text.utf8)) == kind)
    }

    @Test(arguments: [
        [0x80],                    // lone continuation byte
        [0xC0, 0xAF],              // overlong '/'
        [0xE0, 0x80, 0xAF],        // overlong
        [0xED, 0xA0, 0x80],        // UTF-16 surrogate encoded in UTF-8
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0xE2, 0x82],              // truncated
        [0xFF],
    ] as [[UInt8]])
    func rejectsInvalidUTF8InStrings(sequence: [UInt8]) {
        let doc = Array(#"{"a": ""#.utf8) + sequence + Array(#""}"#.utf8)
        #expect(error(doc) == .invalidUTF8)
    }

    @Test func acceptsValidMultiByteUTF8() throws {
        #expect(try scan(#"{"a": "Grüße, 東京, 😀"}"#).values[0] == .string("Grüße, 東京, 😀"))
    }

    @Test func refusesNestingDeeperThanTheLimitWithoutRecursion() {
        #expect(error(Array(String(repeating: "[", count: 17).utf8)) == .tooDeep)
        let fine = String(repeating: "[", count: 16) + String(repeating: "]", count: 16)
        #expect(error(Array(fine.utf8)) == nil)
        // Far deeper than any stack could recurse: still a clean error.
        let deep = JSONScanner(paths: KeyPathSet([]), maxDepth: 10_000_000)
        let hostile = [UInt8](repeating: UInt8(ascii: "["), count: 2_000_000)
        #expect(throws: JSONScanError.self) { try deep.scan(hostile) }
    }

    @Test func acceptsEverythingFoundationSerializes() throws {
        var rng = SystemRandomNumberGenerator()
        let all = JSONScanner(paths: KeyPathSet(["k0", "k1", "k2"]), maxDepth: 64)
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, rng: &rng)
            let object: [String: Any] = ["k0": value, "k1": "s\u{1}\u{7f}é", "k2": 3]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            let result = try all.scan(Array(data))
            #expect(result.values[1] == .string("s\u{1}\u{7f}é"))
            #expect(result.values[2]?.numberValue?.int64 == 3)
        }
    }

    static func randomValue(depth: Int, rng: inout SystemRandomNumberGenerator) -> Any {
        switch Int.random(in: 0..<(depth > 4 ? 4 : 6), using: &rng) {
        case 0: return Int.random(in: -1_000_000...1_000_000, using: &rng)
        case 1: return Double.random(in: -1e6...1e6, using: &rng)
        case 2: return String((0..<Int.random(in: 0..<12, using: &rng)).map { _ in "aé\"\\\n😀 /".randomElement(using: &rng)! })
        case 3: return Bool.random(using: &rng) ? true : NSNull()
        case 4: return (0..<Int.random(in: 0..<5, using: &rng)).map { _ in randomValue(depth: depth + 1, rng: &rng) }
        default:
            var o: [String: Any] = [:]
            for i in 0..<Int.random(in: 0..<5, using: &rng) { o["key\(i)"] = randomValue(depth: depth + 1, rng: &rng) }
            return o
        }
    }

    @Test func neverCrashesOnRandomMutationsOfAPing() throws {
        let url = try #require(Bundle.module.url(forResource: "gitlab-16.5-ee-omnibus-db-enabled", withExtension: "json", subdirectory: "Fixtures"))
        let original = Array(try Data(contentsOf: url))
        let extractor = PayloadExtractor()
        var rng = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                }
            }
            if (try? extractor.extract(bytes, receivedAt: Timestamp(milliseconds: 1_800_000_000_000))) != nil { accepted += 1 }
        }
        #expect(accepted < 500)
    }
}

@Suite struct TopLevelKeysTests {
    @Test(arguments: [
        (#"{"a":1,"b":{"a":2},"c":[{"a":3}]}"#, nil),
        (#"{"a":1,"b":2,"a":3}"#, "a"),
        (#"{"a\"b":1,"a\u0022b":2}"#, "a\"b"),
        (#"{"x":"{\"a\":1,","a":1,"y":"a","a":2}"#, "a"),
        ("{}", nil),
    ] as [(String, String?)])
    func theFirstRepeatedTopLevelKeyIsFound(json: String, repeated: String?) {
        #expect(TopLevelKeys.firstRepeated(in: Array(json.utf8)) == repeated)
    }
}
