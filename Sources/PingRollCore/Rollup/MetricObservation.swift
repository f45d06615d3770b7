/// What one ping says about one catalog metric. A metric absent from a ping's observations is
/// unknown (missing, wrong type, or its `when` conditions did not hold).
public enum MetricObservation: Equatable, Sendable {
    case bool(Bool)
    case number(Double)
    case string(String)
    /// A failure value (`-1`, `-2`, `-1000`, `{"-1": -1}`) for a number or string metric.
    case failed
    /// A number whose magnitude is beyond `maxExactNumber`: counted, never summed.
    case outOfRange
    /// Absent because the installation does not collect the metric's data category (e.g.
    /// optional metrics turned off): it cannot report it, which is not the same as unknown.
    case notCollected

    /// The largest magnitude a number metric sums: 2^53, the last integer a double holds
    /// exactly. GitLab instances do send larger numbers (e.g. 8e18, system identifiers above
    /// 2^63); those count as `out_of_range`.
    public static let maxExactNumber: Double = 9_007_199_254_740_992

    static let failureNumbers: Set<String> = ["-1", "-2", "-1000"]
    /// Longer string values are cut to this many characters before they are counted.
    public static let maxStringLength = 200

    /// Interprets a captured value as `type`; nil means unknown.
    public static func interpret(_ value: CapturedValue?, as type: MetricValueType) -> MetricObservation? {
        guard let value else { return nil }
        let isFailure: Bool
        switch value {
        case .number(let n): isFailure = failureNumbers.contains(n.text) || (n.double.map { [-1, -2, -1000].contains($0) } ?? false)
        case .object(let text): isFailure = text == #"{"-1":-1}"#
        default: isFailure = false
        }
        switch type {
        case .boolean:
            if case .bool(let b) = value { return .bool(b) }
            return nil
        case .number:
            if isFailure { return .failed }
            guard case .number(let n) = value else { return nil }
            guard let d = n.double, abs(d) <= maxExactNumber else { return .outOfRange }
            return .number(d)
        case .string:
            if isFailure { return .failed }
            guard case .string(var s) = value, !s.isEmpty else { return nil }
            // A NUL becomes U+FFFD: values are labels, and no store or C API must cut them.
            s = s.replacingNUL()
            return .string(s.count > maxStringLength ? String(s.prefix(maxStringLength)) : s)
        }
    }
}

/// Text encoding of a ping's observations, stored beside the ping so that its rollup
/// contribution can be subtracted later without re-reading the raw payload.
///
/// One line per known metric: `key_path=` then `t`/`f` (boolean), `n<number>`, `s<string>` (with
/// `\\` and `\n` escaped), `x` (failed), `o` (out of range) or `c` (not collected).
public enum ObservationCodec {
    public static func encode(_ observations: [String: MetricObservation]) -> String {
        observations.keys.sorted().map { key in
            let value: String
            switch observations[key]! {
            case .bool(let b): value = b ? "t" : "f"
            case .number(let d): value = "n" + numberText(d)
            case .string(let s): value = "s" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
            case .failed: value = "x"
            case .outOfRange: value = "o"
            case .notCollected: value = "c"
            }
            return key + "=" + value
        }.joined(separator: "\n")
    }

    public static func decode(_ text: String) -> [String: MetricObservation] {
        var result: [String: MetricObservation] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            let rest = line[line.index(after: eq)...]
            guard let tag = rest.first else { continue }
            let body = rest.dropFirst()
            switch tag {
            case "t": result[key] = .bool(true)
            case "f": result[key] = .bool(false)
            case "x": result[key] = .failed
            case "o": result[key] = .outOfRange
            case "c": result[key] = .notCollected
            case "n": if let d = Double(body) { result[key] = .number(d) }
            case "s": result[key] = .string(unescape(body))
            default: continue
            }
        }
        return result
    }

    static func numberText(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }  // exact: |d| < 2^53
        return "\(d)"
    }

    static func unescape(_ s: Substring) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped { out.append(c == "n" ? "\n" : c); escaped = false } else if c == "\\" { escaped = true } else { out.append(c) }
        }
        return out
    }
}

extension String {
    /// The text with every NUL replaced by U+FFFD, for values that are stored as labels.
    public func replacingNUL() -> String {
        guard utf8.contains(0) else { return self }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars { out.append(scalar == "\u{0}" ? "\u{FFFD}" : scalar) }
        return String(out)
    }

    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
