import PingRollCore
import Testing

@Suite struct JSONTreeTests {
    @Test func aDocumentReadsAndWritesBackTheSame() throws {
        let text = #"{"a":[1,-2.5e3,true,false,null,"x\"\\\n\u00e9\ud83d\ude00"],"b":{"c":{}},"d":[]}"#
        let tree = try JSONTree.parse(Array(text.utf8))
        #expect(tree.objectValue?["a"]?.arrayValue?.count == 6)
        #expect(tree.objectValue?["a"]?.arrayValue?[5].stringValue == "x\"\\\né😀")
        #expect(try JSONTree.parse(tree.serialized()) == tree)
        #expect(try JSONTree.parse(tree.serialized(pretty: true, sortedKeys: true)) == tree)
        #expect(tree.objectValue?.keys == ["a", "b", "d"], "members keep their order")
    }

    @Test func aMemberNamedTwiceKeepsItsLastValueAtItsFirstPlace() throws {
        let tree = try JSONTree.parse(Array(#"{"a":1,"b":2,"a":3}"#.utf8))
        #expect(tree.objectValue?.keys == ["a", "b"] && tree.objectValue?["a"]?.numberValue?.text == "3")
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\"}", "01", "1.", "tru", "\"\\x\"", "\"\u{1}\"", "[1] 2", "\"\\ud800x\""])
    func invalidDocumentsAreRefused(text: String) {
        #expect(throws: JSONTree.ParseError.self) { try JSONTree.parse(Array(text.utf8)) }
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONTree.ParseError.self) { try JSONTree.parse(Array(deep.utf8), maxDepth: 128) }
        #expect((try? JSONTree.parse(Array(deep.utf8), maxDepth: 256)) != nil)
    }

    @Test func wholeNumbersAreThoseTheTextReadsAsWholeWithinTwoToThe53() {
        #expect(JSONNumber(text: "42").wholeNumber == 42 && JSONNumber(text: "1e3").wholeNumber == 1000)
        #expect(JSONNumber(text: "1.5").wholeNumber == nil && JSONNumber(text: "1e300").wholeNumber == nil)
        #expect(JSONNumber(text: "12345678901234567890123").wholeNumber == nil)
    }
}
