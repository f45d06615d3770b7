import PingRollCore
/// A page kept as HTML (`upload.html`): a frame with `{{title}}` and `{{content}}`, then
/// sections, each starting with a line `<!-- section NAME: TITLE -->`. Rendering a section fills
/// the frame with its title and text, and every `{{name}}` with a value, HTML-escaped. One pass
/// over the text, so the cost is linear in the page and the values.
struct HTMLTemplate: Sendable {
    enum Problem: Error, CustomStringConvertible {
        case missingSection(String)
        var description: String {
            switch self { case .missingSection(let name): "the page has no section \(name)" }
        }
    }

    private let frame: String
    private let sections: [String: (title: String, text: String)]

    init(_ page: String) {
        var frame = "", sections: [String: (String, String)] = [:]
        var current: (name: String, title: String)?, text = ""
        func close() {
            if let c = current { sections[c.name] = (c.title, text) } else { frame = text }
        }
        for line in page.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingASCIIWhitespace()
            if trimmed.hasPrefix("<!-- section "), trimmed.hasSuffix("-->") {
                close()
                let header = trimmed.dropFirst("<!-- section ".count).dropLast("-->".count)
                let parts = header.splitting(atASCII: UInt8(ascii: ":"), maxSplits: 1, omittingEmpty: false)
                current = (parts[0].trimmingASCIIWhitespace(), parts.count > 1 ? parts[1].trimmingASCIIWhitespace() : "")
                text = ""
            } else {
                text += line + "\n"
            }
        }
        close()
        self.frame = frame
        self.sections = sections
    }

    /// The whole page for section `name`, its `{{…}}` filled from `values` (escaped).
    func render(_ name: String, _ values: [String: String] = [:]) throws(Problem) -> String {
        guard let section = sections[name] else { throw .missingSection(name) }
        let content = Self.fill(section.text, values)
        return Self.fill(frame, ["title": section.title], raw: ["content": content])
    }

    /// Replaces `{{name}}` by `values[name]` escaped, or by `raw[name]` as is; unknown names stay.
    static func fill(_ text: String, _ values: [String: String], raw: [String: String] = [:]) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        let brace = UInt8(ascii: "{"), closing = UInt8(ascii: "}")
        while i < bytes.count {
            if bytes[i] == brace, i + 1 < bytes.count, bytes[i + 1] == brace {
                var j = i + 2
                while j + 1 < bytes.count, !(bytes[j] == closing && bytes[j + 1] == closing), bytes[j] != brace { j += 1 }
                if j + 1 < bytes.count, bytes[j] == closing {
                    let name = String(decoding: bytes[(i + 2)..<j], as: UTF8.self)
                    if let v = values[name] { out += Array(escape(v).utf8); i = j + 2; continue }
                    if let v = raw[name] { out += Array(v.utf8); i = j + 2; continue }
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func escape(_ s: String) -> String { HTMLText.escape(s) }
}
