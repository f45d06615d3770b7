/// Finds a byte pattern in a buffer in time linear in both (Knuth–Morris–Pratt): hostile input
/// cannot make a search quadratic, whatever the pattern and the text.
public struct ByteSearch: Sendable {
    public let pattern: [UInt8]
    /// failure[k]: the length of the longest proper border of pattern[0...k].
    private let failure: [Int]

    public init(_ pattern: [UInt8]) {
        precondition(!pattern.isEmpty, "an empty pattern matches everywhere")
        self.pattern = pattern
        var failure = [Int](repeating: 0, count: pattern.count)
        var k = 0
        for i in 1..<max(pattern.count, 1) {
            while k > 0 && pattern[i] != pattern[k] { k = failure[k - 1] }
            if pattern[i] == pattern[k] { k += 1 }
            failure[i] = k
        }
        self.failure = failure
    }

    /// The range of the first occurrence at or after `start`, or nil.
    public func firstRange(in text: [UInt8], from start: Int) -> Range<Int>? {
        guard start >= 0, start <= text.count else { return nil }
        var k = 0
        var i = start
        while i < text.count {
            let c = text[i]
            while k > 0 && c != pattern[k] { k = failure[k - 1] }
            if c == pattern[k] { k += 1 }
            if k == pattern.count { return (i + 1 - k)..<(i + 1) }
            i += 1
        }
        return nil
    }
}
