import Foundation
import Yams

/// Reads the small YAML files pingroll takes (`serve --config`, `--pull-config`), bounded: at
/// most 1 MiB of UTF-8, and a document of at most 100,000 values nested at most 64 deep once
/// its aliases are expanded (a few lines of anchors and aliases can otherwise stand for
/// billions of values).
enum YAMLFile {
    static let maxBytes = 1 << 20
    static let maxValues = 100_000
    static let maxDepth = 64

    enum Failure: Error, CustomStringConvertible {
        case unreadable
        case notText
        case invalid(String)
        case tooBig

        var description: String {
            switch self {
            case .unreadable: "cannot be read"
            case .notText: "is not UTF-8 text of at most 1 MiB"
            case .invalid(let reason): "is not valid YAML: \(reason)"
            case .tooBig: "expands to more than \(YAMLFile.maxValues) values or nests deeper than \(YAMLFile.maxDepth) (aliases included)"
            }
        }
    }

    /// The document as Foundation values (nil for an empty file).
    static func load(_ path: String) throws(Failure) -> Any? {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable }
        guard data.count <= maxBytes, let text = String(data: data, encoding: .utf8) else { throw .notText }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw .invalid("\(error)") }
        guard let node else { return nil }
        var budget = maxValues
        guard fits(node, depth: 0, budget: &budget) else { throw .tooBig }
        return node.any
    }

    /// Whether `node` has at most `budget` values within `maxDepth`, counting aliased parts
    /// every time they are used (as constructing the values will).
    private static func fits(_ node: Node, depth: Int, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0, depth <= maxDepth else { return false }
        switch node {
        case .scalar, .alias: return true
        case .sequence(let sequence):
            for child in sequence where !fits(child, depth: depth + 1, budget: &budget) { return false }
            return true
        case .mapping(let mapping):
            for (key, value) in mapping where !fits(key, depth: depth + 1, budget: &budget) || !fits(value, depth: depth + 1, budget: &budget) {
                return false
            }
            return true
        }
    }
}
