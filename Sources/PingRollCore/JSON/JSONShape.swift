#if canImport(Glibc)
import Glibc
#endif

/// A JSON document cut in two: its *skeleton* (everything but the scalar values: structure,
/// whitespace and object keys, with one 0x00 byte where each value was) and its *values*
/// (each scalar token's exact bytes, each followed by 0x00). Weekly pings of one GitLab version
/// share their skeleton byte for byte, so it is stored once; only the values are stored per ping.
///
/// `join(split(x)) == x` byte for byte. 0x00 cannot occur in valid JSON (not even inside a
/// string, where control characters must be escaped), so both parts are unambiguous; a document
/// that holds one is not split. Both passes are linear and never trap, whatever the input.
public struct JSONShape: Sendable, Equatable {
    public var skeleton: [UInt8]
    public var values: [UInt8]

    public init(skeleton: [UInt8], values: [UInt8]) {
        self.skeleton = skeleton
        self.values = values
    }

    /// The parts of a document, or nil when it is not one this splitter understands (a 0x00
    /// byte, an unterminated string, brackets that do not nest, a missing value). Input the JSON
    /// scanner accepted always splits.
    public static func split(_ json: [UInt8]) -> JSONShape? {
        json.withUnsafeBufferPointer { split($0) }
    }

    /// Whether a byte ends a number or literal token (structure, whitespace, a quote).
    @inline(__always)
    private static func isDelimiter(_ d: UInt8) -> Bool {
        // All delimiters are below 0x7E; one shift and mask test each, no table, no closure.
        switch d {
        case 0x20, 0x09, 0x0A, 0x0D, 0x2C, 0x3A, 0x7B, 0x7D, 0x5B, 0x5D, 0x22: true
        default: false
        }
    }

    static func split(_ b: UnsafeBufferPointer<UInt8>) -> JSONShape? {
        let n = b.count
        guard let base = b.baseAddress else { return JSONShape(skeleton: [], values: []) }
        // One 0x00 anywhere and the parts would be ambiguous: not split.
        if memchr(base, 0, n) != nil { return nil }
        var skeleton: [UInt8] = [], values: [UInt8] = []
        skeleton.reserveCapacity(n)
        values.reserveCapacity(n / 4)
        // Containers open: true for an object. Depth is bounded by the input's length.
        var objects: [Bool] = []
        var expectKey = false
        // Skeleton bytes are copied in runs: from `run` up to the next value token.
        var run = 0
        var i = 0
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        while i < n {
            let c = b[i]
            var valueEnd = -1
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ":"):
                i += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                objects.append(c == UInt8(ascii: "{"))
                expectKey = c == UInt8(ascii: "{")
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard let isObject = objects.popLast(), isObject == (c == UInt8(ascii: "}")) else { return nil }
                expectKey = false
                i += 1
            case UInt8(ascii: ","):
                expectKey = objects.last ?? false
                i += 1
            case quote:
                // The closing quote: the next quote not escaped by an odd run of backslashes.
                var j = i + 1
                while true {
                    guard j < n, let found = memchr(base + j, Int32(quote), n - j) else { return nil }
                    let q = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    var k = q - 1, slashes = 0
                    while k > i && b[k] == backslash { slashes += 1; k -= 1 }
                    if slashes % 2 == 0 { j = q; break }
                    j = q + 1
                }
                if expectKey { expectKey = false; i = j + 1 } else { valueEnd = j + 1 }
            default:
                // A number or a literal: up to the next delimiter.
                guard !expectKey else { return nil }
                var j = i + 1
                while j < n && !isDelimiter(b[j]) { j += 1 }
                valueEnd = j
            }
            if valueEnd >= 0 {
                skeleton.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<i]))
                skeleton.append(0)
                values.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<valueEnd]))
                values.append(0)
                run = valueEnd
                i = valueEnd
            }
        }
        guard objects.isEmpty else { return nil }
        skeleton.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<n]))
        return JSONShape(skeleton: skeleton, values: values)
    }

    public enum JoinError: Error, Equatable, CustomStringConvertible {
        case valuesMissing, valuesLeftOver, sizeMismatch
        public var description: String {
            switch self {
            case .valuesMissing: "the skeleton has more value places than the values stream has values"
            case .valuesLeftOver: "the values stream has more values than the skeleton has places"
            case .sizeMismatch: "the joined document is not of its recorded size"
            }
        }
    }

    /// The document again. `expectedSize`, when given, must match (a stored payload records it).
    public static func join(skeleton: [UInt8], values: [UInt8], expectedSize: Int? = nil) throws(JoinError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(expectedSize.map { max(0, min($0, skeleton.count + values.count)) } ?? (skeleton.count + values.count))
        var v = 0
        let count = values.count
        var failed = false
        skeleton.withUnsafeBufferPointer { s in
            values.withUnsafeBufferPointer { vals in
                var start = 0
                for k in 0..<s.count where s[k] == 0 {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: s[start..<k]))
                    var end = v
                    while end < count && vals[end] != 0 { end += 1 }
                    guard end < count else { failed = true; return }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: vals[v..<end]))
                    v = end + 1
                    start = k + 1
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: s[start..<s.count]))
            }
        }
        if failed { throw .valuesMissing }
        guard v == count else { throw .valuesLeftOver }
        if let expectedSize, expectedSize != out.count { throw .sizeMismatch }
        return out
    }

    /// A 64-bit hash of a skeleton (FNV-1a over 8-byte words, then the tail), to find a stored
    /// skeleton quickly. Equality is always checked on the bytes; the hash only narrows the search.
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(raw.count)
            let prime: UInt64 = 0x0000_0100_0000_01B3
            var i = 0
            while i + 8 <= raw.count {
                h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* prime
                h ^= h >> 29
                i += 8
            }
            while i < raw.count {
                h = (h ^ UInt64(raw[i])) &* prime
                i += 1
            }
            return h
        }
    }
}
