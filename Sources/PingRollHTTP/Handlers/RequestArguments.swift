import Foundation
import PingRollCore
import PingRollService

/// Query arguments and JSON bodies read the same way by every route that takes them.
extension HTTPRequest {
    /// The route's path parameter `name` as a `T`; 404 with `notFound` when the text is not one.
    /// A name the route's template does not declare is a mistake in pingroll: 500 `internal`.
    func path<T: LosslessStringConvertible>(_ name: String, as type: T.Type, notFound: @autoclosure () -> String) throws(HTTPError) -> T {
        guard let text = pathParameters[name] else {
            throw HTTPError(500, "internal", "the route \(head.method) \(head.path) declares no path parameter `\(name)`")
        }
        guard let value = T(text) else { throw HTTPError(404, "not_found", notFound()) }
        return value
    }

    /// The query argument `name` as one of `T`'s cases (absent: `fallback`); 400 naming the
    /// cases otherwise. A name the route does not declare is a mistake in pingroll: 500 `internal`.
    func query<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type, default fallback: T) throws(HTTPError) -> T
        where T.RawValue == String {
        if let declared = declaredQuery, !declared.contains(name) {
            throw HTTPError(500, "internal", "the route \(head.method) \(head.path) declares no query parameter `\(name)`")
        }
        guard let text = head.queryValue(name) else { return fallback }
        guard let value = T(rawValue: text) else {
            throw HTTPError(400, "invalid_parameter", "`\(name)`: must be \(T.allCases.map(\.rawValue).joined(separator: ", ")) (got \(text))")
        }
        return value
    }

    /// `from` and `to` (YYYY-MM-DD, inclusive; default the last `defaultDays` days), at most ten
    /// years apart.
    func dayRange(defaultDays: Int64 = 30) throws(HTTPError) -> (from: Int64, to: Int64) {
        let today = PeriodKind.day.start(of: .now())
        var bounds: [Int64] = []
        for (name, fallback) in [("from", today - (defaultDays - 1)), ("to", today)] {
            guard let text = head.queryValue(name) else { bounds.append(fallback); continue }
            guard let day = days(isoDate: text) else {
                throw HTTPError(400, "invalid_parameter", "`\(name)`: must be a date YYYY-MM-DD (got \(text))")
            }
            bounds.append(day)
        }
        guard bounds[0] <= bounds[1], bounds[1] - bounds[0] < 3660 else {
            throw HTTPError(400, "invalid_parameter", "`to`: must be on or after `from`, at most ten years later")
        }
        return (bounds[0], bounds[1])
    }

    /// `limit=N`: `fallback` when absent, else 1 to `max`.
    func limit(default fallback: Int, max: Int) throws(HTTPError) -> Int {
        let text = head.queryValue("limit") ?? "\(fallback)"
        guard let limit = Int(text), (1...max).contains(limit) else {
            throw HTTPError(400, "invalid_parameter", "`limit`: must be 1 to \(max) (got \(text))")
        }
        return limit
    }

    /// A JSON body checked before anything parses it: its media type (unless the route accepts
    /// any), then its grammar and depth (16) by the scanner; the scan, or a 415/400.
    @discardableResult
    func checkedJSONBody(requireContentType: Bool = true) throws(HTTPError) -> JSONScanner.Result {
        if requireContentType, let refusal = BodyDecoding.checkJSONContentType(head.headers["Content-Type"]) { throw refusal }
        do throws(JSONScanError) { return try JSONScanner(paths: KeyPathSet([]), maxDepth: 16).scan(body) } catch {
            throw HTTPError(400, "invalid_json", error.description)
        }
    }

    /// The body as a JSON object (grammar and depth checked by the scanner first), or a 400.
    func jsonObject() throws -> JSONObject {
        try checkedJSONBody()
        if let repeated = TopLevelKeys.firstRepeated(in: body) {
            throw HTTPError(400, "invalid_json", "`\(repeated.replacingNUL())` appears twice in the body; send each field once")
        }
        guard let object = (try? JSONTree.parse(body))?.objectValue else {
            throw HTTPError(400, "not_an_object", "the body must be a JSON object")
        }
        return object
    }

    /// A member of a beta request body, decoded by `JSONDecoder` (which keeps booleans and
    /// numbers apart): a field input, a list of texts, or anything else.
    enum BodyMember: Decodable {
        case input(FieldInput)
        case texts([String])
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .input(.null) }
            else if let b = try? c.decode(Bool.self) { self = .input(.bool(b)) }
            else if let d = try? c.decode(Double.self) { self = .input(.number(d)) }
            else if let s = try? c.decode(String.self) { self = .input(.text(s)) }
            else if let list = try? c.decode([String].self) { self = .texts(list) }
            else { self = .other }
        }
    }

    /// The body as a JSON object of field inputs (and, for the members named in `lists`, lists of
    /// texts), parsed once after the scanner checked its grammar and depth; or a 400/422.
    func fieldInputs(lists: Set<String> = []) throws(HTTPError) -> (inputs: [String: FieldInput], lists: [String: [String]]) {
        let scan = try checkedJSONBody(requireContentType: false)
        guard scan.topLevelIsObject else { throw HTTPError(400, "not_an_object", "the body must be a JSON object") }
        if let repeated = TopLevelKeys.firstRepeated(in: body) {
            throw HTTPError(400, "invalid_json", "`\(repeated.replacingNUL())` appears twice in the body; send each field once")
        }
        let members: [String: BodyMember]
        do { members = try JSONDecoder().decode([String: BodyMember].self, from: Data(body)) } catch {
            throw HTTPError(400, "invalid_json", "the body is not JSON")
        }
        var inputs: [String: FieldInput] = [:], texts: [String: [String]] = [:]
        for (key, member) in members {
            // No store keeps a NUL in text (PostgreSQL refuses it); refuse it here, for every field.
            let hasNUL: Bool
            switch member {
            case .input(.text(let s)): hasNUL = s.utf8.contains(0)
            case .texts(let list): hasNUL = list.contains { $0.utf8.contains(0) }
            default: hasNUL = false
            }
            guard !hasNUL, !key.utf8.contains(0) else {
                throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` must not contain a NUL character")
            }
            switch member {
            case .input(let input): inputs[key] = input
            case .texts(let list) where lists.contains(key): texts[key] = list
            default: throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` must be \(lists.contains(key) ? "a list of texts, " : "")text, a number, true/false or null")
            }
        }
        return (inputs, texts)
    }

}
