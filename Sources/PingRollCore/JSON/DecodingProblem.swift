import FoundationEssentials

/// A `JSONDecoder` failure as one human sentence naming where in the document it is
/// (`panels[2].chart: ...`), not Foundation's dump.
public enum DecodingProblem {
    public static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func place(_ path: [any CodingKey]) -> String {
            var out = ""
            for key in path {
                if let i = key.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
            }
            return out.isEmpty ? "the document" : "`\(out)`"
        }
        switch e {
        case .keyNotFound(let key, let context):
            return "\(place(context.codingPath)): `\(key.stringValue)` is required"
        case .valueNotFound(_, let context):
            return "\(place(context.codingPath)): must not be null"
        case .typeMismatch(let type, let context):
            return "\(place(context.codingPath)): must be \(name(of: type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the document is not valid JSON" }
            return "\(place(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is Double.Type: "a number"
        default:
            "\(type)".hasPrefix("Array") ? "a list" : "\(type)".hasPrefix("Dictionary") ? "an object" : "a \(type)"
        }
    }
}
