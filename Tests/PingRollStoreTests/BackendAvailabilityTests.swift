import Foundation
import Testing

@Suite struct BackendAvailabilityTests {
    /// CI must run the contract suite against PostgreSQL too, never silently SQLite alone.
    @Test func ciRunsEveryBackend() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            #expect(Backend.available == Backend.allCases, "PINGROLL_TEST_POSTGRES_URL is not set: run scripts/test.sh")
        }
    }
}
