import PingRollCore

/// Token storage with shared SQL: secrets are kept as SHA-256 hashes and compared in constant time.
enum TokenSQL {
    static func hash(_ secret: String) -> [UInt8] {
        Digest.sha256(Array(secret.utf8))
    }

    static func create(_ executor: any SQLExecutor, name: String, role: Role) throws(StorageError) -> BearerToken {
        let token = BearerToken.generate()
        let existing = try executor.query("SELECT 1 FROM api_tokens WHERE name = $1 AND revoked_at IS NULL", [.text(name)],
                                          operation: "creating a token")
        guard existing.isEmpty else {
            throw StorageError(.constraint, operation: "creating a token", reason: "a token named \(name) already exists; revoke it first")
        }
        try executor.query("""
            INSERT INTO api_tokens (token_id, name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)
            """, [.text(token.id), .text(name), .text(role.rawValue), .blob(hash(token.secret)), .integer(Timestamp.now().milliseconds)],
            operation: "creating a token")
        return token
    }

    static let listed = ColumnList(["token_id", "name", "role", "created_at", "revoked_at"])

    static func list(_ executor: any SQLExecutor) throws(StorageError) -> [TokenInfo] {
        let op = "listing tokens"
        return try executor.query("SELECT \(listed.selectList) FROM api_tokens ORDER BY created_at, token_id", [], operation: op)
            .map { values throws(StorageError) in
                let r = listed.row(values, op)
                let roleText = try r.requiredString("role")
                guard let role = Role(rawValue: roleText) else {
                    throw StorageError(.corrupt, operation: op, reason: "a token has the unknown role \(roleText)")
                }
                return TokenInfo(id: try r.requiredString("token_id"), name: try r.requiredString("name"), role: role,
                                 createdAt: Timestamp(milliseconds: try r.requiredInt64("created_at")),
                                 revokedAt: try r.int64("revoked_at").map { Timestamp(milliseconds: $0) })
            }
    }

    /// Revokes the active token with this name; false when there is none.
    static func revoke(_ executor: any SQLExecutor, name: String) throws(StorageError) -> Bool {
        let rows = try executor.query("""
            UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL RETURNING token_id
            """, [.text(name), .integer(Timestamp.now().milliseconds)], operation: "revoking a token")
        return !rows.isEmpty
    }

    /// The active token this bearer token proves, or nil.
    static func authenticate(_ executor: any SQLExecutor, _ token: BearerToken) throws(StorageError) -> TokenInfo? {
        let op = "checking a token"
        let columns = ColumnList(["token_id", "name", "role", "created_at", "secret_hash"])
        let rows = try executor.query("""
            SELECT \(columns.selectList) FROM api_tokens WHERE token_id = $1 AND revoked_at IS NULL
            """, [.text(token.id)], operation: op)
        let presented = hash(token.secret)
        guard let values = rows.first else { return nil }
        let r = columns.row(values, op)
        guard let stored = try r.value("secret_hash").bytes, stored.count == presented.count else { return nil }
        // A stored role this binary does not know grants nothing.
        guard Digest.constantTimeEqual(stored, presented), let role = Role(rawValue: try r.string("role") ?? "") else { return nil }
        return TokenInfo(id: try r.requiredString("token_id"), name: try r.requiredString("name"), role: role,
                         createdAt: Timestamp(milliseconds: try r.requiredInt64("created_at")), revokedAt: nil)
    }
}
