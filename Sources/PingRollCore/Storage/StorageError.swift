/// The one error type of every storage backend.
///
/// Its description names the operation and the kind of failure, never SQL text or bound values,
/// so it is safe to log and to show to API clients.
public struct StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A uniqueness or other constraint refused the write.
        case constraint
        /// The database is locked by another writer for longer than the busy timeout.
        case busy
        /// The database cannot be reached or opened.
        case unavailable
        /// The disk is full or an I/O error occurred.
        case io
        /// The database file is damaged or not a database.
        case corrupt
        /// The write queue is full; the caller should retry later.
        case overloaded
        /// The store is shutting down or closed.
        case closed
        /// The schema is newer than this binary knows, or a migration failed.
        case schema
        /// Anything else the backend reported.
        case other
    }

    public let kind: Kind
    /// What pingroll was doing, e.g. "storing a ping batch".
    public let operation: String
    /// The backend's own, value-free description of the failure (e.g. SQLite's `sqlite3_errstr`).
    public let reason: String
    /// What the backend said in full (SQLite's `sqlite3_errmsg`, the first line of PostgreSQL's
    /// message): names tables and constraints, may quote values. For the log only: it is not
    /// part of `description`, and no answer carries it.
    public let debugDetail: String?

    public init(_ kind: Kind, operation: String, reason: String, debugDetail: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.reason = reason
        self.debugDetail = debugDetail
    }

    /// Equal when kind, operation and reason are (the debug detail is the log's, not identity).
    public static func == (a: StorageError, b: StorageError) -> Bool {
        a.kind == b.kind && a.operation == b.operation && a.reason == b.reason
    }

    /// Whether retrying the same write later may succeed.
    public var isTransient: Bool {
        switch kind {
        case .busy, .unavailable, .io, .overloaded, .closed: true
        case .constraint, .corrupt, .schema, .other: false
        }
    }

    public var description: String { "\(operation) failed (\(kind.rawValue)): \(reason)" }
}
