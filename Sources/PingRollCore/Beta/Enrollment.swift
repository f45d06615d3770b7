/// A customer in a beta program, as PRODUCT.md §3 describes.
public struct Enrollment: Sendable, Equatable {
    public var id: Int64 = 0
    public var program: String
    public var organization: String
    public var contactName: String
    public var contactEmail: String
    public var uuid: String?
    public var hostname: String?
    public var installationType: String?
    public var registrySizeBytes: Int64?
    public var storageDriver: String?
    public var phase: String?
    public var status: EnrollmentStatus = .interested
    /// The status an enrollment was in when it became `blocked`.
    public var blockedFrom: EnrollmentStatus?
    public var notes: String?
    public var geoEnabled: Bool?
    public var databaseSetup: String?
    public var registryNodes: Int64?
    public var taggedImages: Int64?
    public var importMode: String?
    public var backupTaken: Bool?
    public var offlineGCDisabled: Bool?
    public var motivation: String?
    public var createdAt = Timestamp(milliseconds: 0)
    public var updatedAt = Timestamp(milliseconds: 0)

    public init(program: String, organization: String, contactName: String, contactEmail: String) {
        self.program = program
        self.organization = organization
        self.contactName = contactName
        self.contactEmail = contactEmail
    }

    /// The editable fields by their API names, in the documented (CSV) column order.
    public static let fields = EnrollmentField.allCases.map(\.rawValue)

    /// A field's value as text (nil when unset or not a field), for history and CSV.
    public func text(of name: String) -> String? { EnrollmentField(rawValue: name).flatMap { text(of: $0) } }

    /// A field's value as text (nil when unset), for history and CSV.
    public func text(of field: EnrollmentField) -> String? {
        switch value(of: field) {
        case .null: nil
        case .bool(let b): "\(b)"
        case .integer(let i): String(i)
        case .text(let t): t
        }
    }

    /// A field's typed value, as the API shows it.
    public func value(of field: EnrollmentField) -> FieldValue {
        func t(_ s: String?) -> FieldValue { s.map(FieldValue.text) ?? .null }
        func i(_ n: Int64?) -> FieldValue { n.map(FieldValue.integer) ?? .null }
        func b(_ v: Bool?) -> FieldValue { v.map(FieldValue.bool) ?? .null }
        return switch field {
        case .organization: .text(organization)
        case .contactName: .text(contactName)
        case .contactEmail: .text(contactEmail)
        case .uuid: t(uuid)
        case .hostname: t(hostname)
        case .installationType: t(installationType)
        case .registrySizeBytes: i(registrySizeBytes)
        case .storageDriver: t(storageDriver)
        case .phase: t(phase)
        case .status: .text(status.rawValue)
        case .notes: t(notes)
        case .geoEnabled: b(geoEnabled)
        case .databaseSetup: t(databaseSetup)
        case .registryNodes: i(registryNodes)
        case .taggedImages: i(taggedImages)
        case .importMode: t(importMode)
        case .backupTaken: b(backupTaken)
        case .offlineGCDisabled: b(offlineGCDisabled)
        case .motivation: t(motivation)
        }
    }
}

/// A stored enrollment field's value: JSON null, a boolean, an integer or text.
public enum FieldValue: Sendable, Equatable, Encodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case text(String)

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .text(let t): try c.encode(t)
        }
    }
}

/// The editable enrollment fields, by API name (= column name), in the documented CSV order.
/// Every switch over them is exhaustive, so a new field cannot be forgotten by validation,
/// text, JSON or SQL.
public enum EnrollmentField: String, Sendable, CaseIterable {
    case organization, contactName = "contact_name", contactEmail = "contact_email", uuid, hostname
    case installationType = "installation_type", registrySizeBytes = "registry_size_bytes", storageDriver = "storage_driver"
    case phase, status, notes, geoEnabled = "geo_enabled", databaseSetup = "database_setup", registryNodes = "registry_nodes"
    case taggedImages = "tagged_images", importMode = "import_mode", backupTaken = "backup_taken"
    case offlineGCDisabled = "offline_gc_disabled", motivation
}

/// A value given for an enrollment field (from JSON, CSV or the CLI).
public enum FieldInput: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case text(String)
}

/// Why a field of a request (a migration run, a registry statistics upload) was refused; names
/// the field. Answered 422 `invalid_field`.
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "`\(field)`: \(message)" }
}

/// Why an enrollment input was refused; names the field.
public struct EnrollmentError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String
    /// Set for an illegal status change: the statuses that are allowed.
    public let allowed: [EnrollmentStatus]?

    public init(_ field: String, _ message: String, allowed: [EnrollmentStatus]? = nil) {
        self.field = field
        self.message = message
        self.allowed = allowed
    }

    public var description: String { "`\(field)`: \(message)" }
}

extension Enrollment {
    static let maxText = 2_000

    /// Applies `inputs` (API field names) to a copy; `status` changes follow the transition rules
    /// (a change to the current status is no change). Returns the changed fields with old and new text.
    public mutating func apply(_ inputs: [String: FieldInput], creating: Bool = false) throws(EnrollmentError) -> [(field: String, old: String?, new: String?)] {
        var changes: [(String, String?, String?)] = []
        for field in inputs.keys.sorted(by: { Self.fields.firstIndex(of: $0) ?? 99 < Self.fields.firstIndex(of: $1) ?? 99 }) {
            guard Self.fields.contains(field) else { throw EnrollmentError(field, "is not an enrollment field") }
            let input = inputs[field]!
            let old = text(of: field)
            try set(field, input, creating: creating)
            let new = text(of: field)
            if old != new { changes.append((field, old, new)) }
        }
        try check()
        return changes
    }

    private mutating func set(_ field: String, _ input: FieldInput, creating: Bool) throws(EnrollmentError) {
        func string(required: Bool = false, max: Int = Enrollment.maxText) throws(EnrollmentError) -> String? {
            switch input {
            case .null where !required: return nil
            case .text(let s):
                let t = s.trimmingASCIIWhitespace()
                // Text of nothing but spaces (any Unicode space) is no text.
                if !t.hasVisibleCharacter { if required { throw EnrollmentError(field, "is required") } else { return nil } }
                guard t.count <= max else { throw EnrollmentError(field, "is longer than \(max) characters") }
                guard !t.utf8.contains(0) else { throw EnrollmentError(field, "must not contain a NUL character") }
                return t
            default: throw EnrollmentError(field, required ? "is required and must be text" : "must be text or null")
            }
        }
        func oneOf(_ options: [String]) throws(EnrollmentError) -> String? {
            guard let s = try string() else { return nil }
            guard options.contains(s) else { throw EnrollmentError(field, "must be one of \(options.joined(separator: ", ")) (got \(s))") }
            return s
        }
        func bool() throws(EnrollmentError) -> Bool? {
            switch input {
            case .null: return nil
            case .bool(let b): return b
            case .text(let s):
                switch s.trimmingASCIIWhitespace().lowercased() {
                case "": return nil
                case "true", "yes", "1": return true
                case "false", "no", "0": return false
                default: throw EnrollmentError(field, "must be true or false (got \(s))")
                }
            default: throw EnrollmentError(field, "must be true or false")
            }
        }
        func count(min: Int64) throws(EnrollmentError) -> Int64? {
            switch input {
            case .null: return nil
            case .number(let d) where d == d.rounded() && d >= Double(min) && d < 9e18: return Int64(d)
            case .text(let s) where s.trimmingASCIIWhitespace().isEmpty: return nil
            case .text(let s): if let v = Int64(s.trimmingASCIIWhitespace()), v >= min { return v }
            default: break
            }
            throw EnrollmentError(field, "must be a whole number of at least \(min)")
        }
        switch EnrollmentField(rawValue: field) {
        case .organization?: organization = try string(required: true, max: 200)!
        case .contactName?: contactName = try string(required: true, max: 200)!
        case .contactEmail?:
            let email = try string(required: true, max: 254)!
            guard BetaValidation.isEmail(email) else { throw EnrollmentError(field, "is not a valid e-mail address") }
            contactEmail = email
        case .uuid?: uuid = try string(max: 100)
        case .hostname?: hostname = try string(max: 255)?.lowercased()
        case .installationType?: installationType = try string(max: 100)
        case .registrySizeBytes?:
            switch input {
            case .text(let s) where !s.trimmingASCIIWhitespace().isEmpty:
                guard let bytes = BetaValidation.parseSize(s) else { throw EnrollmentError(field, "must be bytes or a size like 500GB or 2TiB (got \(s))") }
                registrySizeBytes = bytes
            default: registrySizeBytes = try count(min: 0)
            }
        case .storageDriver?: storageDriver = try oneOf(BetaValidation.storageDrivers)
        case .phase?: phase = try string(max: 100)
        case .status?:
            guard let text = try string(), let next = EnrollmentStatus(rawValue: text) else {
                throw EnrollmentError(field, "must be one of \(EnrollmentStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if creating {
                guard next == .interested || next == .enrolled else { throw EnrollmentError(field, "a new enrollment starts as interested or enrolled") }
                status = next
            } else if next != status {
                let allowed = status.allowedNext(blockedFrom: blockedFrom)
                guard allowed.contains(next) else {
                    throw EnrollmentError(field, "cannot change from \(status.rawValue) to \(next.rawValue); allowed: \(allowed.map(\.rawValue).joined(separator: ", "))", allowed: allowed)
                }
                blockedFrom = next == .blocked ? status : nil
                status = next
            }
        case .notes?: notes = try string(max: 10_000)
        case .geoEnabled?: geoEnabled = try bool()
        case .databaseSetup?: databaseSetup = try oneOf(BetaValidation.databaseSetups)
        case .registryNodes?: registryNodes = try count(min: 1)
        case .taggedImages?: taggedImages = try count(min: 0)
        case .importMode?: importMode = try oneOf(BetaValidation.importModes)
        case .backupTaken?: backupTaken = try bool()
        case .offlineGCDisabled?: offlineGCDisabled = try bool()
        case .motivation?: motivation = try string()
        case nil: throw EnrollmentError(field, "is not an enrollment field")
        }
    }

    func check() throws(EnrollmentError) {
        if let first = checkProblems().first { throw first }
    }

    /// Every rule the whole record breaks, in field order.
    func checkProblems() -> [EnrollmentError] {
        var problems: [EnrollmentError] = []
        if organization.isEmpty { problems.append(EnrollmentError("organization", "is required")) }
        if contactName.isEmpty { problems.append(EnrollmentError("contact_name", "is required")) }
        if !BetaValidation.isEmail(contactEmail) { problems.append(EnrollmentError("contact_email", "is required and must be a valid e-mail address")) }
        if hostname != nil && uuid == nil { problems.append(EnrollmentError("hostname", "needs a uuid")) }
        return problems
    }

    /// Every problem `apply(inputs)` would have, not only the first it stops at: each field
    /// is checked on its own, then the record's rules (skipping fields already reported).
    public func problems(_ inputs: [String: FieldInput], creating: Bool = false) -> [EnrollmentError] {
        var copy = self
        var found: [EnrollmentError] = []
        for field in inputs.keys.sorted(by: { Self.fields.firstIndex(of: $0) ?? 99 < Self.fields.firstIndex(of: $1) ?? 99 }) {
            guard Self.fields.contains(field) else { found.append(EnrollmentError(field, "is not an enrollment field")); continue }
            do throws(EnrollmentError) { try copy.set(field, inputs[field]!, creating: creating) } catch { found.append(error) }
        }
        let reported = Set(found.map(\.field))
        return found + copy.checkProblems().filter { !reported.contains($0.field) }
    }
}
