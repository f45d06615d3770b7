extension StringProtocol {
    /// Splits at an ASCII separator on the UTF-8 bytes, never on `Character`s: a separator
    /// followed by a combining mark or an emoji modifier (`,\u{301}`, `:🏻`) forms one grapheme
    /// with it, so a `Character` split would not see it, while an ASCII byte never occurs inside
    /// a multi-byte sequence. Every list or key:value a client sends is split this way.
    public func splitting(atASCII separator: UInt8, maxSplits: Int = .max, omittingEmpty: Bool = true) -> [String] {
        utf8.split(separator: separator, maxSplits: maxSplits, omittingEmptySubsequences: omittingEmpty)
            .map { String(decoding: $0, as: UTF8.self) }
    }
}

extension StringProtocol {
    /// Whether the text has a character that is not white space by Unicode's definition (form
    /// feeds, no-break and em spaces count as space): what "required text" means.
    public var hasVisibleCharacter: Bool { unicodeScalars.contains { !$0.properties.isWhitespace } }
}
