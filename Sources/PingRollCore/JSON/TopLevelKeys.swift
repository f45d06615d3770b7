import FoundationEssentials

/// The member names of a JSON object's top level, for bodies whose decoder would keep only one
/// of two equal keys: a request that names a field twice is refused instead of one value
/// silently winning.
public enum TopLevelKeys {
    /// The first top-level key that occurs twice in `bytes`, which must already be a valid JSON
    /// object (the scanner checked it); nil when every key is unique. One linear pass.
    public static func firstRepeated(in bytes: [UInt8]) -> String? {
        var seen = Set<String>()
        var depth = 0
        var i = 0
        var expectingKey = false
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < bytes.count && bytes[i] != UInt8(ascii: "\"") {
                    i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                if depth == 1 && expectingKey {
                    let literal = bytes[start...min(i, bytes.count - 1)]
                    // Only keys with escapes need decoding (`a` and `\u0061` are one key).
                    let key = literal.contains(UInt8(ascii: "\\"))
                        ? (try? JSONDecoder().decode(String.self, from: Data(literal))) ?? String(decoding: literal, as: UTF8.self)
                        : String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
                    if !seen.insert(key).inserted { return key }
                    expectingKey = false
                }
            case UInt8(ascii: "{"):
                depth += 1
                if depth == 1 { expectingKey = true }
            case UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): if depth == 1 { expectingKey = true }
            default: break
            }
            i += 1
        }
        return nil
    }
}
