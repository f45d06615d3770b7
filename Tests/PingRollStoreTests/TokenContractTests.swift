import Testing
import PingRollCore
@testable import PingRollStore

@Suite struct TokenContractTests {
    @Test(arguments: Backend.available)
    func tokensAreStoredHashedAuthenticatedAndRevocable(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        defer { store.close() }
        let token = try store.createToken(name: "dashboards", role: .viewer)
        #expect(try store.authenticate(token)?.role == .viewer)
        #expect(try store.authenticate(BearerToken(id: token.id, secret: String(repeating: "x", count: 40))) == nil)
        #expect(try store.authenticate(BearerToken.generate()) == nil)
        // Only a hash is stored.
        let stored = try db.sql("SELECT secret_hash FROM api_tokens")
        #expect(stored.first?[0].bytes?.count == 32 && stored.first?[0].bytes != Array(token.secret.utf8))
        #expect(throws: StorageError.self) { try store.createToken(name: "dashboards", role: .admin) }
        #expect(try store.revokeToken(name: "dashboards"))
        #expect(try !store.revokeToken(name: "dashboards"))
        #expect(try store.authenticate(token) == nil)
        let again = try store.createToken(name: "dashboards", role: .admin)
        #expect(try store.authenticate(again)?.role == .admin)
        #expect(try store.tokens().map(\.name) == ["dashboards", "dashboards"])
        #expect(try store.tokens().filter { $0.revokedAt == nil }.count == 1)
    }
}
