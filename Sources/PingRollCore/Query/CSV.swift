/// CSV fields that are safe to open in a spreadsheet.
public enum CSV {
    /// Quotes when needed (RFC 4180) and defuses formulas: a text starting with `=`, `+`, `-`,
    /// `@`, tab or carriage return gets a leading `'`, unless it is a plain number.
    public static func field(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first), Double(value) == nil { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
