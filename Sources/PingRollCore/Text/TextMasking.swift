/// Masks what in free text could name a person or a place: e-mail addresses, URLs, hostnames
/// (and IP addresses), and file or bucket paths become `<email>`, `<url>`, `<host>`, `<path>`.
/// Used for what viewers read of text typed by product managers (migration error messages,
/// phase labels), so that aggregates carry no personal data. Linear in the text; words are
/// split on whitespace, and the punctuation around a word is kept.
public enum TextMasking {
    public static func mask(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var word = ""
        for c in text {
            if c.isWhitespace {
                out += maskWord(word)
                word = ""
                out.append(c)
            } else {
                word.append(c)
            }
        }
        out += maskWord(word)
        return out
    }

    /// Characters a word is often wrapped in, kept around its mask: `(`, `"`, a closing `,`.
    static let wrapping: Set<Character> = ["(", ")", "[", "]", "{", "}", "<", ">", "\"", "'", "`", ",", ";", "!", "?"]

    static func maskWord(_ word: String) -> String {
        guard !word.isEmpty else { return word }
        var core = Substring(word)
        var lead = "", trail = ""
        while let f = core.first, wrapping.contains(f) { lead.append(f); core.removeFirst() }
        while let l = core.last, wrapping.contains(l) || l == "." || l == ":" { trail.insert(l, at: trail.startIndex); core.removeLast() }
        guard !core.isEmpty, let kind = classify(core) else { return word }
        return lead + kind + trail
    }

    /// `<url>`, `<email>`, `<path>` or `<host>` for a word that is one, else nil.
    static func classify(_ w: Substring) -> String? {
        if let scheme = w.firstRange(of: "://") {
            let name = w[..<scheme.lowerBound]
            let isScheme = !name.isEmpty && name.allSatisfy { c in c.isLetter || c.isNumber || c == "+" || c == "-" || c == "." }
            if isScheme { return "<url>" }
        }
        if let at = w.firstIndex(of: "@"), at != w.startIndex, isHost(w[w.index(after: at)...]) { return "<email>" }
        if w.hasPrefix("/") || w.hasPrefix("~/") || w.hasPrefix("./") || w.hasPrefix("../") || w.contains("\\") {
            return w.count > 1 ? "<path>" : nil
        }
        // `bucket/docker/registry`: three segments or more (`i/o`, `read/write` are words).
        let segments = w.split(separator: "/", omittingEmptySubsequences: false)
        if segments.count >= 3 && segments.allSatisfy({ !$0.isEmpty }) { return "<path>" }
        var host = w
        if let colon = host.lastIndex(of: ":"), host[host.index(after: colon)...].allSatisfy(\.isNumber), colon != host.startIndex {
            host = host[..<colon]
        }
        return isHost(host) ? "<host>" : nil
    }

    /// A DNS name with at least two labels and a top label of letters (`gitlab.example.com`),
    /// or an IPv4 address.
    static func isHost(_ s: Substring) -> Bool {
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 }) else { return false }
        if labels.count == 4 && labels.allSatisfy({ $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } }) { return true }
        guard labels.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } }) else { return false }
        let top = labels.last!
        return top.count >= 2 && top.allSatisfy(\.isLetter)
    }
}
