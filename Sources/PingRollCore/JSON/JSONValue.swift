import FoundationEssentials

/// A value the scanner captured at a requested key path.
///
/// Scalars are decoded; containers are described by kind and, when short, by their raw text
/// (enough to recognise GitLab's histogram failure value `{"-1": -1}`).
public enum CapturedValue: Equatable, Sendable {
    case string(String)
    /// A number, with its exact source text (never rounded through `Double` unless asked).
    case number(JSONNumber)
    case bool(Bool)
    case null
    /// An object; `compactText` is its text with insignificant whitespace removed when it is
    /// at most `CapturedValue.maxCompactTextLength` bytes long, otherwise nil.
    case object(compactText: String?)
    /// An array, its number of elements and, when at most `maxCompactTextLength` bytes long,
    /// its text without insignificant whitespace.
    case array(count: Int, compactText: String?)

    static let maxCompactTextLength = 256

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var numberValue: JSONNumber? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The elements of a short array whose elements are all strings (e.g. GitLab's
    /// `settings.collected_data_categories`); nil for anything else.
    public var stringElements: [String]? {
        guard case .array(_, let text?) = self else { return nil }
        return try? JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}

/// A JSON number as written in the document.
public struct JSONNumber: Equatable, Sendable, CustomStringConvertible {
    /// The number's source text, e.g. `-1`, `3.5e3`.
    public let text: String

    public init(text: String) { self.text = text }

    /// The value as a 64-bit integer, when it is written as one and fits.
    public var int64: Int64? { Int64(text) }

    /// The value as a finite double; nil when it overflows.
    public var double: Double? {
        guard let d = Double(text), d.isFinite else { return nil }
        return d
    }

    public var description: String { text }
}
