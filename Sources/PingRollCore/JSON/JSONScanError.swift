/// Why a byte sequence is not acceptable JSON, and where the scanner stopped.
public struct JSONScanError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case empty = "the body is empty"
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "unexpected character"
        case invalidUTF8 = "invalid UTF-8"
        case controlCharacterInString = "unescaped control character in a string"
        case invalidEscape = "invalid escape sequence in a string"
        case invalidNumber = "invalid number"
        case invalidLiteral = "invalid literal (expected true, false or null)"
        case tooDeep = "nesting deeper than the limit"
        case trailingData = "data after the end of the JSON value"
    }

    public let kind: Kind
    /// Byte offset into the input where the problem was found.
    public let offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String { "invalid JSON at byte \(offset): \(kind.rawValue)" }
}
