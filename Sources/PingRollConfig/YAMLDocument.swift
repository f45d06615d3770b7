import Foundation
import PingRollService
import Yams

/// A YAML value as pingroll's configuration readers see it: scalars resolved to the types a
/// setting can take, mappings keyed by plain names in file order, with the line of each key.
public indirect enum YAMLValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([YAMLValue])
    case mapping([YAMLEntry])

    /// The scalar as the text a command-line argument would give (nil for lists and mappings,
    /// null, and non-finite numbers).
    public var scalarText: String? {
        switch self {
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): d.isFinite ? String(d) : nil
        case .string(let s): s
        case .null, .list, .mapping: nil
        }
    }

    /// What kind of value this is, for messages ("a list").
    public var kindName: String {
        switch self {
        case .null: "nothing"
        case .bool: "true or false"
        case .int, .double: "a number"
        case .string: "text"
        case .list: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// One `key: value` of a mapping.
public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    /// 1-based line of the key in the file.
    public var line: Int
    public var value: YAMLValue

    public init(key: String, line: Int, value: YAMLValue) {
        self.key = key
        self.line = line
        self.value = value
    }
}

/// Reads the small YAML files pingroll takes (`serve --config`, `--pull-config`), bounded: at
/// most 1 MiB of UTF-8, and a document of at most 100,000 values nested at most 64 deep once
/// its aliases are expanded (a few lines of anchors and aliases can otherwise stand for
/// billions of values).
///
/// The composed node tree is walked here rather than converted by the YAML library's own
/// constructors, which trap on a mapping key that is itself a list or a mapping (`[a]: c`):
/// every key must be a plain scalar, and anything else is a `Failure` naming its line.
public enum YAMLDocument {
    public static let maxBytes = 1 << 20
    public static let maxValues = 100_000
    public static let maxDepth = 64

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unreadable
        case notText
        case invalid(String)
        case tooBig
        /// A mapping key that is not a plain scalar: its line and what it is.
        case complexKey(line: Int, found: String, text: String)
        case duplicateKey(line: Int, key: String)

        /// The line the failure is on, when it is about one.
        public var line: Int? {
            switch self {
            case .complexKey(let line, _, _), .duplicateKey(let line, _): line
            case .unreadable, .notText, .invalid, .tooBig: nil
            }
        }

        /// What is wrong, without the line.
        public var reason: String {
            switch self {
            case .unreadable: "cannot be read"
            case .notText: "is not UTF-8 text of at most 1 MiB"
            case .invalid(let reason): "is not valid YAML: \(reason)"
            case .tooBig: "expands to more than \(YAMLDocument.maxValues) values or nests deeper than \(YAMLDocument.maxDepth) (aliases included)"
            case .complexKey(_, let found, let text): "a key must be a plain name, not \(found) (`\(text)`)"
            case .duplicateKey(_, let key): "`\(key)` is given twice in the same mapping"
            }
        }

        public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
    }

    /// The document at `path` (nil for an empty file).
    public static func load(path: String) throws(Failure) -> YAMLValue? {
        let bytes: [UInt8]
        do throws(BoundedFile.Failure) { bytes = try BoundedFile.read(path, maxBytes: maxBytes) } catch {
            throw error == .tooLarge ? .notText : .unreadable
        }
        return try parse(bytes)
    }

    /// The document in `bytes` (nil for an empty document).
    public static func parse(_ bytes: [UInt8]) throws(Failure) -> YAMLValue? {
        guard bytes.count <= maxBytes, let text = String(validating: bytes, as: UTF8.self) else { throw .notText }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw .invalid(oneLine("\(error)")) }
        guard let node else { return nil }
        var budget = maxValues
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try value(of: node, depth: 0, budget: &budget, lines: lines)
    }

    /// The node as a value, counting every node (aliased parts each time they are used, as
    /// they were inlined when composed) against `budget`.
    private static func value(of node: Node, depth: Int, budget: inout Int, lines: [Substring]) throws(Failure) -> YAMLValue {
        budget -= 1
        guard budget >= 0, depth <= maxDepth else { throw .tooBig }
        switch node {
        case .scalar(let scalar):
            return resolve(scalar, tag: node.tag)
        case .alias:
            // compose inlines aliases; a bare alias node is not something a setting can be.
            return .null
        case .sequence(let sequence):
            var items: [YAMLValue] = []
            for child in sequence { items.append(try value(of: child, depth: depth + 1, budget: &budget, lines: lines)) }
            return .list(items)
        case .mapping(let mapping):
            var entries: [YAMLEntry] = []
            var seen = Set<String>()
            for (key, child) in mapping {
                let line = key.mark?.line ?? 0
                guard case .scalar(let scalar) = key else {
                    let kind = if case .sequence = key { "a list" } else { "a mapping" }
                    throw .complexKey(line: line, found: kind, text: excerpt(lines, line))
                }
                budget -= 1
                guard budget >= 0 else { throw .tooBig }
                guard seen.insert(scalar.string).inserted else { throw .duplicateKey(line: line, key: clipped(scalar.string)) }
                entries.append(YAMLEntry(key: scalar.string, line: line,
                                         value: try value(of: child, depth: depth + 1, budget: &budget, lines: lines)))
            }
            return .mapping(entries)
        }
    }

    /// A scalar as null, a boolean, a number or text, as YAML's resolution of its tag says.
    /// Numbers are read here, not by the YAML library, whose integer constructor traps on an
    /// overflowing base-60 number (`5:52:52:5:52:52:...`, found by the `config` fuzz target):
    /// only plain decimal integers and decimal fractions become numbers; anything else a
    /// resolver calls a number (hex, octal, base 60, out of range) stays text.
    private static func resolve(_ scalar: Node.Scalar, tag: Tag) -> YAMLValue {
        let text = scalar.string
        switch Tag.Name(rawValue: tag.rawValue) {
        case .null: return .null
        case .bool: return Bool.construct(from: scalar).map(YAMLValue.bool) ?? .string(text)
        case .int, .float:
            let digits = text.utf8.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
            guard text.utf8.count <= 64, !digits.isEmpty else { return .string(text) }
            if digits.allSatisfy({ (0x30...0x39).contains($0) }) { return Int(text).map(YAMLValue.int) ?? .string(text) }
            if digits.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E")
                                   || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }),
               let d = Double(text), d.isFinite {
                return .double(d)
            }
            return .string(text)
        default: return .string(text)
        }
    }

    /// The file's line `line` (1-based), trimmed and shortened, for a message.
    private static func excerpt(_ lines: [Substring], _ line: Int) -> String {
        guard line >= 1, line <= lines.count else { return "?" }
        return clipped(lines[line - 1].trimmingCharacters(in: .whitespaces))
    }

    static func clipped(_ text: String) -> String {
        let flat = oneLine(text)
        return flat.count > 80 ? String(flat.prefix(77)) + "..." : flat
    }

    /// `text` on one line: line breaks and other control characters become spaces.
    static func oneLine(_ text: String) -> String {
        let parts = text.split(whereSeparator: { $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return String(parts.joined(separator: "; ").unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
    }
}
