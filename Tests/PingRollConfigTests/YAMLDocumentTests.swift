import PingRollConfig
import Testing

@Suite struct YAMLDocumentTests {
    func parse(_ text: String) throws(YAMLDocument.Failure) -> YAMLValue? { try YAMLDocument.parse(Array(text.utf8)) }

    @Test func scalarsResolveToTheTypesSettingsTake() throws {
        let value = try parse("a: 1\nb: true\nc: 1.5\nd: text\ne: ~\nf: '7'\ng: 99999999999999999999999\nh: [x, 2]\n")
        guard case .mapping(let entries)? = value else { Issue.record("not a mapping: \(String(describing: value))"); return }
        #expect(entries.map(\.key) == ["a", "b", "c", "d", "e", "f", "g", "h"], "file order")
        #expect(entries.map(\.line) == Array(1...8))
        #expect(entries.map(\.value) == [.int(1), .bool(true), .double(1.5), .string("text"), .null, .string("7"),
                                         .string("99999999999999999999999"), .list([.string("x"), .int(2)])])
    }

    @Test(arguments: [
        ("? [a, b]\n: c\n", 1, "a list"),
        ("? {a: b}\n: c\n", 1, "a mapping"),
        ("ok: 1\n[a]: c\n", 2, "a list"),
        ("ok: 1\n{a: b}: c\n", 2, "a mapping"),
        ("outer:\n  - inner: 1\n    [x]: y\n", 3, "a list"),
    ])
    func keysThatAreNotPlainScalarsAreAFailureWithTheirLine(text: String, line: Int, kind: String) {
        #expect(throws: YAMLDocument.Failure.self) { try parse(text) }
        do throws(YAMLDocument.Failure) { _ = try parse(text) } catch {
            guard case .complexKey(let l, let found, _) = error else { Issue.record("\(error)"); return }
            #expect(l == line && found == kind)
            #expect(!error.description.contains("\n"))
        }
    }

    /// Found by the `config` fuzz target: the YAML library's integer constructor traps on a
    /// base-60 number that overflows. Such values stay text.
    @Test func numbersThatAreNotPlainDecimalsStayText() throws {
        let value = try parse("a: 5:52:52:5:52:52:5:52:52:5:52:5\nb: 0x1F\nc: 1_000\nd: -12\ne: 2.5e3\nf: .inf\n")
        guard case .mapping(let entries)? = value else { Issue.record("\(String(describing: value))"); return }
        #expect(entries.map(\.value) == [.string("5:52:52:5:52:52:5:52:52:5:52:5"), .string("0x1F"), .string("1_000"), .int(-12), .double(2500), .string(".inf")])
    }

    @Test func aKeyGivenTwiceIsRefused() {
        do throws(YAMLDocument.Failure) { _ = try parse("a: 1\nb: 2\na: 3\n"); Issue.record("accepted") } catch {
            #expect(error.description.contains("duplicated key(s): 'a'") && !error.description.contains("\n"), "\(error)")
        }
    }

    @Test func aliasesAreCountedEachTimeTheyAreUsed() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<8 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: YAMLDocument.Failure.tooBig) { try parse(text) }
    }

    @Test func invalidYAMLIsOneLine() {
        do throws(YAMLDocument.Failure) { _ = try parse("key: [unclosed\nother: 1\n"); Issue.record("accepted") } catch {
            #expect(error.description.hasPrefix("is not valid YAML") && !error.description.contains("\n"), "\(error)")
        }
    }

    @Test func bytesThatAreNotUTF8AreRefused() {
        #expect(throws: YAMLDocument.Failure.notText) { try YAMLDocument.parse([0x61, 0x3A, 0x20, 0xFF]) }
    }

    @Test func configFileReadsSettingsInFileOrderWithTheirLines() throws {
        let file = try ConfigFile(document: parse("listen: 127.0.0.1:9\nmetrics-allow: [10.0.0.0/8, fd00::/8]\naccess-log: false\nretention: {payload-days: 30}\n"), path: "c.yaml")
        #expect(file.values.map(\.setting.name) == ["listen", "metrics-allow", "access-log", "retention-payload-days"])
        #expect(file.values.map(\.texts) == [["127.0.0.1:9"], ["10.0.0.0/8", "fd00::/8"], ["false"], ["30"]])
        do { _ = try ConfigFile(document: parse("listen: 1\nlistn: 2\n"), path: "c.yaml"); Issue.record("accepted") } catch {
            #expect("\(error)".hasPrefix("c.yaml:2: `listn` is not a setting (did you mean `listen`?)"), "\(error)")
        }
    }

    @Test func pullConfigNamesTheLineOfABadInstanceField() throws {
        do {
            _ = try PullConfig(document: parse("instances:\n  - name: a\n    url: https://g.example.com\n    tokenfile: /x\n"), path: "p.yaml")
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == "--pull-config p.yaml:4: instance 1: `tokenfile` is not a setting (name, url, token-file)")
        }
    }
}
