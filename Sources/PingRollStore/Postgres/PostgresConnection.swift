import PingRollCore
import CLibPQ
import Foundation

/// One libpq connection and its prepared statements, used by one thread at a time.
///
/// Statements are prepared on first use (named by their position in the cache) and bound with
/// text parameters, except `bytea`, which is sent binary. `close()` must be called explicitly.
// @unchecked: a connection is used by one thread at a time; the pool hands it over under its lock.
final class PostgresConnection: @unchecked Sendable {
    private var conn: OpaquePointer?
    private var prepared: [String: String] = [:]
    let url: String

    init(url: String) throws(StorageError) {
        self.url = url
        let c = PQconnectdb(url)
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let reason = c.map { Self.firstLine(PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(c)
            throw StorageError(.unavailable, operation: "connecting to PostgreSQL", reason: reason)
        }
        conn = c
        // Warnings about e.g. IF NOT EXISTS would go to stderr; pingroll logs its own errors.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
    }

    deinit { assert(conn == nil, "PostgresConnection.close() was not called") }

    func close() {
        PQfinish(conn)
        conn = nil
        prepared.removeAll()
    }

    /// Whether the server is still reachable on this connection (as far as libpq knows).
    var isHealthy: Bool { conn != nil && PQstatus(conn) == CONNECTION_OK }

    /// Runs statements without parameters (one or several, separated by `;`).
    func execute(_ sql: String, operation: String) throws(StorageError) {
        guard let conn else { throw StorageError(.closed, operation: operation, reason: "the connection is closed") }
        let result = PQexec(conn, SQLDialect.postgres.render(sql))
        defer { PQclear(result) }
        try check(result, operation)
    }

    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue], operation: String) throws(StorageError) -> [SQLRow] {
        guard let conn else { throw StorageError(.closed, operation: operation, reason: "the connection is closed") }
        let name: String
        if let existing = prepared[sql] {
            name = existing
        } else {
            name = "s\(prepared.count)"
            let result = PQprepare(conn, name, SQLDialect.postgres.render(sql), Int32(parameters.count), nil)
            defer { PQclear(result) }
            try check(result, operation)
            prepared[sql] = name
        }
        // libpq reads the parameter buffers during the call only.
        var buffers: [UnsafeMutableRawPointer?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { for b in buffers { b?.deallocate() } }
        for p in parameters {
            let bytes: [UInt8]?
            var format: Int32 = 0
            switch p {
            case .null: bytes = nil
            case .integer(let v): bytes = Array(String(v).utf8) + [0]
            case .real(let v): bytes = Array("\(v)".utf8) + [0]
            case .text(let v):
                // PostgreSQL text cannot hold NUL; callers refuse or replace it, this is the last stop.
                guard !v.utf8.contains(0) else {
                    throw StorageError(.other, operation: operation, reason: "a text value contains a NUL character, which PostgreSQL cannot store")
                }
                bytes = Array(v.utf8) + [0]
            case .blob(let v): bytes = v; format = 1
            }
            if let bytes {
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
                bytes.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) } }
                buffers.append(buffer)
                lengths.append(Int32(format == 1 ? bytes.count : bytes.count - 1))
            } else {
                buffers.append(nil)
                lengths.append(0)
            }
            formats.append(format)
        }
        let values = buffers.map { UnsafePointer<CChar>($0?.assumingMemoryBound(to: CChar.self)) }
        let result = PQexecPrepared(conn, name, Int32(parameters.count), values, lengths, formats, 0)
        defer { PQclear(result) }
        try check(result, operation)
        return rows(result)
    }

    /// Runs `body` in a transaction (`BEGIN` … `COMMIT`), rolling back when it throws.
    func transaction<T>(operation: String, begin: String = "BEGIN",
                        _ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        try execute(begin, operation: operation)
        do {
            let result = try body()
            try execute("COMMIT", operation: operation)
            return result
        } catch {
            if isHealthy { PQclear(PQexec(conn, "ROLLBACK")) }
            throw error
        }
    }

    private func rows(_ result: OpaquePointer?) -> [SQLRow] {
        let count = PQntuples(result), columns = PQnfields(result)
        guard count > 0 else { return [] }
        let types = (0..<columns).map { PQftype(result, $0) }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(count))
        for r in 0..<count {
            var row = SQLRow()
            row.reserveCapacity(Int(columns))
            for c in 0..<columns {
                if PQgetisnull(result, r, c) == 1 { row.append(.null); continue }
                let type = PostgresType(rawValue: types[Int(c)])
                // bytea is decoded from its hex text in place: a payload is never copied to a String.
                if type == .bytea {
                    row.append(.blob(Self.decodeHex(PQgetvalue(result, r, c), PQgetlength(result, r, c))))
                    continue
                }
                let text = String(cString: PQgetvalue(result, r, c))
                switch type {
                case .int8, .int2, .int4, .oid: row.append(Int64(text).map { .integer($0) } ?? .text(text))
                case .float4, .float8, .numeric: row.append(Double(text).map { .real($0) } ?? .text(text))
                case .bool: row.append(.integer(text == "t" ? 1 : 0))
                default: row.append(.text(text))
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Decodes bytea in hex output format: `\x` then two hex digits a byte.
    static func decodeHex(_ p: UnsafePointer<CChar>?, _ length: Int32) -> [UInt8] {
        guard let p, length >= 2 else { return [] }
        let n = Int(length)
        var out = [UInt8]()
        out.reserveCapacity((n - 2) / 2)
        func nibble(_ c: CChar) -> UInt8 {
            let u = UInt8(bitPattern: c)
            switch u {
            case 0x30...0x39: return u - 0x30
            case 0x61...0x66: return u - 0x61 + 10
            case 0x41...0x46: return u - 0x41 + 10
            default: return 0
            }
        }
        var i = 2
        while i + 1 < n {
            out.append(nibble(p[i]) << 4 | nibble(p[i + 1]))
            i += 2
        }
        return out
    }

    private func check(_ result: OpaquePointer?, _ operation: String) throws(StorageError) {
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return }
        let sqlstate = result.flatMap { pingroll_pq_sqlstate($0) }.map { String(cString: $0) } ?? ""
        if !isHealthy || sqlstate.hasPrefix("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" {
            prepared.removeAll()
            throw StorageError(.unavailable, operation: operation, reason: "PostgreSQL is not reachable (SQLSTATE \(sqlstate.isEmpty ? "none" : sqlstate))")
        }
        let kind: StorageError.Kind
        switch sqlstate {
        case let s where s.hasPrefix("23"): kind = .constraint
        case "40001", "40P01", "55P03": kind = .busy
        case let s where s.hasPrefix("53"): kind = .io
        case "XX001", "XX002": kind = .corrupt
        default: kind = .other
        }
        let detail = result.map { Self.firstLine(PQresultErrorMessage($0)) }
        throw StorageError(kind, operation: operation, reason: "PostgreSQL reported SQLSTATE \(sqlstate)", debugDetail: detail)
    }

    static func firstLine(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}

extension PostgresConnection: SQLExecutor {
    var dialect: SQLDialect { .postgres }
}

/// The PostgreSQL type OIDs results are read by (`pg_type.oid`, fixed for built-in types).
struct PostgresType: RawRepresentable, Equatable {
    var rawValue: Oid
    static let bool = PostgresType(rawValue: 16)
    static let bytea = PostgresType(rawValue: 17)
    static let int8 = PostgresType(rawValue: 20)
    static let int2 = PostgresType(rawValue: 21)
    static let int4 = PostgresType(rawValue: 23)
    static let oid = PostgresType(rawValue: 26)
    static let float4 = PostgresType(rawValue: 700)
    static let float8 = PostgresType(rawValue: 701)
    static let numeric = PostgresType(rawValue: 1700)
}
