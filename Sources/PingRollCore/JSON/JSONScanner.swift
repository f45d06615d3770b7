/// A single-pass, non-recursive JSON validator that captures the values at a few key paths.
///
/// It checks the whole document against RFC 8259 (strict grammar, UTF-8 validated, no
/// unescaped control characters, no trailing data; a leading byte-order mark is ignored) and
/// refuses nesting deeper than `maxDepth` without recursion, so hostile input cannot overflow
/// the stack. Only values at requested paths are decoded; everything else is validated in place
/// without allocating. When a key occurs twice in one object, the last value wins, also for
/// every path below it (`{"a":{"x":1},"a":{}}` has no `a.x`).
public struct JSONScanner: Sendable {
    public struct Result: Sendable {
        /// Captured values, indexed like `KeyPathSet.paths`; nil where the path was absent.
        public var values: [CapturedValue?]
        /// Whether the document's top-level value is an object.
        public var topLevelIsObject: Bool
    }

    public let paths: KeyPathSet
    public let maxDepth: Int

    public init(paths: KeyPathSet, maxDepth: Int = 128) {
        self.paths = paths
        self.maxDepth = maxDepth
    }

    public func scan(_ bytes: [UInt8]) throws(JSONScanError) -> Result {
        do {
            return try bytes.withUnsafeBytes { buffer in try scan(buffer) }
        } catch let error as JSONScanError {
            throw error
        } catch {
            fatalError("unreachable: scan throws only JSONScanError")
        }
    }

    public func scan(_ buffer: UnsafeRawBufferPointer) throws(JSONScanError) -> Result {
        var state = ScanState(bytes: buffer, paths: paths, maxDepth: maxDepth)
        return try state.run()
    }
}

private struct Frame {
    var isObject: Bool
    var node: Int32
    var target: Int32
    var start: Int
    var count: Int = 0
}

private enum Expect { case value, key, afterValue }

private struct ScanState {
    let b: UnsafeRawBufferPointer
    let n: Int
    let paths: KeyPathSet
    let maxDepth: Int
    var i = 0
    var stack: [Frame] = []
    var values: [CapturedValue?]

    init(bytes: UnsafeRawBufferPointer, paths: KeyPathSet, maxDepth: Int) {
        self.b = bytes
        self.n = bytes.count
        self.paths = paths
        self.maxDepth = maxDepth
        self.values = Array(repeating: nil, count: paths.paths.count)
        stack.reserveCapacity(32)
    }

    mutating func run() throws(JSONScanError) -> JSONScanner.Result {
        if n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { i = 3 }
        skipWhitespace()
        guard i < n else { throw JSONScanError(.empty, at: i) }
        let topLevelIsObject = b[i] == UInt8(ascii: "{")
        var expect = Expect.value
        var pendingNode: Int32 = 0  // the root node addresses top-level members
        while true {
            switch expect {
            case .value:
                expect = .afterValue
                if try scanValue(node: pendingNode), let top = stack.last {
                    skipWhitespace()
                    guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
                    if top.isObject {
                        if b[i] == UInt8(ascii: "}") { i += 1; closeContainer() } else { expect = .key }
                    } else {
                        if b[i] == UInt8(ascii: "]") { i += 1; closeContainer() } else {
                            stack[stack.count - 1].count = 1
                            pendingNode = -1
                            expect = .value
                        }
                    }
                }
            case .key:
                pendingNode = try scanKey()
                expect = .value
            case .afterValue:
                skipWhitespace()
                guard let top = stack.last else {
                    guard i == n else { throw JSONScanError(.trailingData, at: i) }
                    return JSONScanner.Result(values: values, topLevelIsObject: topLevelIsObject)
                }
                guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
                let c = b[i]
                i += 1
                if c == UInt8(ascii: ",") {
                    if top.isObject { expect = .key } else {
                        stack[stack.count - 1].count += 1
                        pendingNode = -1
                        expect = .value
                    }
                } else if c == UInt8(ascii: top.isObject ? "}" : "]") {
                    closeContainer()
                } else {
                    throw JSONScanError(.unexpectedByte, at: i - 1)
                }
            }
        }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < n {
            let c = b[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Scans one value; for a container, only its opening byte (pushing its frame) and returns true.
    mutating func scanValue(node: Int32) throws(JSONScanError) -> Bool {
        skipWhitespace()
        guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
        let target = paths.target(of: node)
        // A key seen again replaces everything captured below its earlier value (last wins).
        for t in paths.descendantTargets(of: node) { values[Int(t)] = nil }
        let start = i
        switch b[i] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard stack.count < maxDepth else { throw JSONScanError(.tooDeep, at: i) }
            stack.append(Frame(isObject: b[i] == UInt8(ascii: "{"), node: b[i] == UInt8(ascii: "{") ? node : -1,
                               target: target, start: i))
            i += 1
            return true
        case UInt8(ascii: "\""):
            let hasEscapes = try scanString()
            if target >= 0 { values[Int(target)] = .string(decodeString(from: start + 1, to: i - 1, hasEscapes)) }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            if target >= 0 { values[Int(target)] = .number(JSONNumber(text: text(start, i))) }
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            if target >= 0 { values[Int(target)] = .bool(true) }
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            if target >= 0 { values[Int(target)] = .bool(false) }
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            if target >= 0 { values[Int(target)] = .null }
        default:
            throw JSONScanError(.unexpectedByte, at: i)
        }
        return false
    }

    /// Scans `"key" :` and returns the trie node the key leads to (-1 when untracked).
    mutating func scanKey() throws(JSONScanError) -> Int32 {
        skipWhitespace()
        guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
        guard b[i] == UInt8(ascii: "\"") else { throw JSONScanError(.unexpectedByte, at: i) }
        let start = i + 1
        let hasEscapes = try scanString()
        let end = i - 1
        var node: Int32 = -1
        let parent = stack[stack.count - 1].node
        if parent >= 0 {
            if hasEscapes {
                var decoded = Array(decodeString(from: start, to: end, true).utf8)
                node = decoded.withUnsafeMutableBytes { paths.child(of: parent, key: UnsafeRawBufferPointer($0)) }
            } else {
                node = paths.child(of: parent, key: UnsafeRawBufferPointer(rebasing: b[start..<end]))
            }
        }
        skipWhitespace()
        guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
        guard b[i] == UInt8(ascii: ":") else { throw JSONScanError(.unexpectedByte, at: i) }
        i += 1
        return node
    }

    mutating func closeContainer() {
        let frame = stack.removeLast()
        guard frame.target >= 0 else { return }
        if frame.isObject {
            values[Int(frame.target)] = .object(compactText: compactText(frame.start, i))
        } else {
            values[Int(frame.target)] = .array(count: frame.count, compactText: compactText(frame.start, i))
        }
    }

    /// Validates a string starting at the opening quote; leaves `i` after the closing quote.
    /// Returns whether it contains escape sequences.
    mutating func scanString() throws(JSONScanError) -> Bool {
        i += 1
        var hasEscapes = false
        while i < n {
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; return hasEscapes }
            if c == UInt8(ascii: "\\") {
                hasEscapes = true
                guard i + 1 < n else { throw JSONScanError(.unexpectedEnd, at: n) }
                switch b[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 5 < n else { throw JSONScanError(.unexpectedEnd, at: n) }
                    for k in 2...5 where hexValue(b[i + k]) < 0 { throw JSONScanError(.invalidEscape, at: i) }
                    i += 6
                default:
                    throw JSONScanError(.invalidEscape, at: i)
                }
            } else if c < 0x20 {
                throw JSONScanError(.controlCharacterInString, at: i)
            } else if c < 0x80 {
                i += 1
            } else {
                try scanUTF8Sequence()
            }
        }
        throw JSONScanError(.unexpectedEnd, at: n)
    }

    /// Validates one multi-byte UTF-8 sequence (Unicode table 3-7: no overlongs, no surrogates).
    @inline(__always)
    mutating func scanUTF8Sequence() throws(JSONScanError) {
        let c = b[i]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw JSONScanError(.invalidUTF8, at: i)
        }
        guard i + length <= n else { throw JSONScanError(.invalidUTF8, at: i) }
        let second = b[i + 1]
        guard second >= low && second <= high else { throw JSONScanError(.invalidUTF8, at: i) }
        if length > 2 {
            for k in 2..<length where b[i + k] & 0xC0 != 0x80 { throw JSONScanError(.invalidUTF8, at: i) }
        }
        i += length
    }

    mutating func scanNumber() throws(JSONScanError) {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, isDigit(b[i]) else { throw JSONScanError(.invalidNumber, at: start) }
        if b[i] == UInt8(ascii: "0") { i += 1 } else { skipDigits() }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, isDigit(b[i]) else { throw JSONScanError(.invalidNumber, at: start) }
            skipDigits()
        }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < n, isDigit(b[i]) else { throw JSONScanError(.invalidNumber, at: start) }
            skipDigits()
        }
    }

    @inline(__always)
    mutating func skipDigits() { while i < n && isDigit(b[i]) { i += 1 } }

    mutating func scanLiteral(_ literal: StaticString) throws(JSONScanError) {
        let count = literal.utf8CodeUnitCount
        guard i + count <= n else { throw JSONScanError(.invalidLiteral, at: i) }
        let p = literal.utf8Start
        for k in 0..<count where b[i + k] != p[k] { throw JSONScanError(.invalidLiteral, at: i) }
        i += count
    }

    func text(_ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
    }

    func compactText(_ start: Int, _ end: Int) -> String? {
        var out: [UInt8] = []
        var inString = false, escaped = false
        for k in start..<end {
            let c = b[k]
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
            } else if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                continue
            } else if c == UInt8(ascii: "\"") {
                inString = true
            }
            out.append(c)
            if out.count > CapturedValue.maxCompactTextLength { return nil }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes an already validated string body (between the quotes).
    func decodeString(from start: Int, to end: Int, _ hasEscapes: Bool) -> String {
        guard hasEscapes else { return text(start, end) }
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var k = start
        while k < end {
            let c = b[k]
            guard c == UInt8(ascii: "\\") else { out.append(c); k += 1; continue }
            let e = b[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(k)
                k += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    if k + 5 < end + 1, b[k] == UInt8(ascii: "\\"), b[k + 1] == UInt8(ascii: "u") {
                        let low = hex4(k + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            k += 6
                        }
                    }
                }
                let unicode = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: UTF8.encode(unicode)!)
            default: out.append(e)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func hex4(_ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 4 | UInt32(hexValue(b[at + k])) }
        return v
    }
}

@inline(__always)
private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

@inline(__always)
private func hexValue(_ c: UInt8) -> Int {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A") + 10)
    default: return -1
    }
}
