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

    static func split(_ b: UnsafeBufferPointer<UInt8>) -> JSONShape? {
        let n = b.count
        var skeleton: [UInt8] = [], values: [UInt8] = []
        skeleton.reserveCapacity(n)
        values.reserveCapacity(n / 4)
        // Containers open: true for an object. Depth is bounded by the input's length.
        var objects: [Bool] = []
        var expectKey = false
        var i = 0
        while i < n {
            let c = b[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ":"):
                skeleton.append(c)
                i += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                objects.append(c == UInt8(ascii: "{"))
                expectKey = c == UInt8(ascii: "{")
                skeleton.append(c)
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard let isObject = objects.popLast(), isObject == (c == UInt8(ascii: "}")) else { return nil }
                expectKey = false
                skeleton.append(c)
                i += 1
            case UInt8(ascii: ","):
                expectKey = objects.last ?? false
                skeleton.append(c)
                i += 1
            case 0x00:
                return nil
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < n {
                    let d = b[j]
                    if d == UInt8(ascii: "\\") {
                        // The escaped byte is part of the token: it must not be the separator either.
                        if j + 1 < n && b[j + 1] == 0x00 { return nil }
                        j += 2
                        continue
                    }
                    if d == UInt8(ascii: "\"") || d == 0x00 { break }
                    j += 1
                }
                guard j < n, b[j] == UInt8(ascii: "\"") else { return nil }
                let token = UnsafeBufferPointer(rebasing: b[i...j])
                if expectKey {
                    skeleton.append(contentsOf: token)
                    expectKey = false
                } else {
                    skeleton.append(0)
                    values.append(contentsOf: token)
                    values.append(0)
                }
                i = j + 1
            default:
                // A number or a literal: up to the next structural byte or whitespace.
                guard !expectKey else { return nil }
                var j = i
                while j < n {
                    let d = b[j]
                    if d == 0x20 || d == 0x09 || d == 0x0A || d == 0x0D || d == UInt8(ascii: ",") || d == UInt8(ascii: "}")
                        || d == UInt8(ascii: "]") || d == UInt8(ascii: ":") || d == UInt8(ascii: "\"") || d == UInt8(ascii: "{")
                        || d == UInt8(ascii: "[") { break }
                    if d == 0x00 { return nil }
                    j += 1
                }
                skeleton.append(0)
                values.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<j]))
                values.append(0)
                i = j
            }
        }
        guard objects.isEmpty else { return nil }
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
