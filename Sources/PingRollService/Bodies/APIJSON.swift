import FoundationEssentials
import PingRollCore

/// The one JSON encoder of the API: keys sorted (answers are stable and diffable), slashes
/// unescaped. Every response body is an `Encodable` type of this folder.
public enum APIJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// A number as the API shows it: rounded to millionths (sums and estimates carry no more),
    /// nil when not finite (JSON has no NaN or infinity).
    public static func number(_ v: Double?) -> Double? {
        guard let v, v.isFinite else { return nil }
        if v == v.rounded() { return v }
        return (v * 1_000_000).rounded() / 1_000_000
    }
}

/// An optional member that is always written: `null` when there is no value, so a client can
/// tell "unknown" from a member it does not know (synthesized `Encodable` leaves nil out).
@propertyWrapper
public struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value = wrappedValue { try c.encode(value) } else { try c.encodeNil() }
    }
}

extension Nullable: Equatable where Value: Equatable {}

/// A member name known only at run time (a cell name, a dimension value).
struct MemberKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// pingroll's one error shape: `{"error":{"code":"...","message":"..."}}`; an illegal status
/// change also lists the statuses `allowed`.
public struct ErrorBody: Encodable, Sendable {
    public struct Detail: Encodable, Sendable {
        public var code: String
        public var message: String
        public var allowed: [String]?
    }

    public var error: Detail

    public init(code: String, message: String, allowed: [String]? = nil) {
        error = Detail(code: code, message: message, allowed: allowed)
    }
}

/// `{"status":"ok"}` (`/healthz`) and `{"status":"ready"}` (`/readyz`).
public struct StatusBody: Encodable, Sendable {
    public var status: String
    public init(_ status: String) { self.status = status }
}

/// `{}`: what GitLab's client expects after posting a metadata or error report.
public struct EmptyBody: Encodable, Sendable {
    public init() {}
}
