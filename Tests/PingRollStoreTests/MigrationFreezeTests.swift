import Testing
@testable import PingRollStore

/// A shipped migration never changes: its SQL, per dialect, is pinned here by a hash. A new
/// migration adds a line; a changed one fails this test.
@Suite struct MigrationFreezeTests {
    static let pinned: [Int: (sqlite: UInt64, postgres: UInt64)] = [
        1: (sqlite: 0x69f3a8aead5397b7, postgres: 0x12af40d05f8b2f92),
        2: (sqlite: 0x803f3bd0c6c55a84, postgres: 0xb16535289f9c31fa),
        3: (sqlite: 0x7600be5e4511a98b, postgres: 0x6381320dd1e2c10f),
        4: (sqlite: 0x8b2ac4564cc584e6, postgres: 0x8b2ac4564cc584e6),
        5: (sqlite: 0x429190923b635249, postgres: 0x20303c7512fc7323),
        6: (sqlite: 0xb4b05d1a90fdd142, postgres: 0xb4b05d1a90fdd142),
        7: (sqlite: 0xd393d4ee086d5439, postgres: 0xd393d4ee086d5439),
        8: (sqlite: 0xb891079c2af8c441, postgres: 0x7510efa97d402d11),
        9: (sqlite: 0x815d6539c3459e7c, postgres: 0x8de2ade0b32a7bd0),
        10: (sqlite: 0xf12310f6cdda1c7f, postgres: 0xf12310f6cdda1c7f),
        11: (sqlite: 0xb516d8f01d88e4c6, postgres: 0xefc033846d84b2b0),
        12: (sqlite: 0x666c2effa6744fa4, postgres: 0x666c2effa6744fa4),
        13: (sqlite: 0xf9de82f740bcf836, postgres: 0xb27364e8ef578ec4),
        14: (sqlite: 0x60383455ab1fe5c2, postgres: 0x60383455ab1fe5c2),
        15: (sqlite: 0xfbf3d02d10d17eff, postgres: 0xa581fc54c2281835),
        16: (sqlite: 0x3758c99b61949b9f, postgres: 0x3758c99b61949b9f),
        17: (sqlite: 0xbd036ea89a513dc0, postgres: 0xa81fa98e73d569e),
        18: (sqlite: 0x2df64f725591f59e, postgres: 0x2df64f725591f59e),
        19: (sqlite: 0x65f41c64155484bb, postgres: 0x7b9edd4e1ca4eebb),
        20: (sqlite: 0x985082aa4983c29a, postgres: 0x985082aa4983c29a),
    ]

    /// FNV-1a over the statements as rendered for the dialect.
    static func fingerprint(_ migration: Migration, _ dialect: SQLDialect) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in migration.statements(dialect).map({ dialect.render($0) }).joined(separator: "\u{1F}").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    @Test func shippedMigrationsAreUnchanged() {
        var lines: [String] = []
        for m in Migrations.all {
            let now = (Self.fingerprint(m, .sqlite), Self.fingerprint(m, .postgres))
            lines.append("\(m.version): (sqlite: 0x\(String(now.0, radix: 16)), postgres: 0x\(String(now.1, radix: 16))),")
            guard let pinned = Self.pinned[m.version] else { Issue.record("migration \(m.version) is not pinned"); continue }
            #expect(pinned.sqlite == now.0 && pinned.postgres == now.1, "migration \(m.version) changed")
        }
        let listing = lines.joined(separator: "\n")
        if Self.pinned.count != Migrations.all.count { Issue.record("pin these:\n\(listing)") }
    }
}
