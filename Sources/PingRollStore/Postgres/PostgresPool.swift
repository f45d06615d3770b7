import PingRollCore
import Dispatch
import Synchronization

/// A fixed-size pool of PostgreSQL connections, opened lazily and replaced after the server
/// went away, so pingroll recovers on its own when PostgreSQL comes back.
final class PostgresPool: Sendable {
    let url: String
    let size: Int
    private let idle = Mutex<[PostgresConnection]>([])
    private let slots: DispatchSemaphore
    private let closed = Atomic<Bool>(false)

    init(url: String, size: Int) {
        self.url = Self.withConnectTimeout(url)
        self.size = max(1, size)
        slots = DispatchSemaphore(value: self.size)
    }

    /// Runs `body` with a connection of the pool; a connection that failed is closed, not reused.
    func with<T>(_ body: (PostgresConnection) throws(StorageError) -> T) throws(StorageError) -> T {
        guard !closed.load(ordering: .acquiring) else {
            throw StorageError(.closed, operation: "using the store", reason: "the store is closed")
        }
        slots.wait()
        defer { slots.signal() }
        let connection: PostgresConnection
        if let reused = idle.withLock({ $0.popLast() }) {
            connection = reused
        } else {
            connection = try PostgresConnection(url: url)
        }
        do {
            let result = try body(connection)
            giveBack(connection)
            return result
        } catch {
            if error.kind == .unavailable || !connection.isHealthy { connection.close() } else { giveBack(connection) }
            throw error
        }
    }

    private func giveBack(_ connection: PostgresConnection) {
        if connection.isHealthy { idle.withLock { $0.append(connection) } } else { connection.close() }
    }

    func close() {
        closed.store(true, ordering: .releasing)
        for _ in 0..<size { slots.wait() }
        idle.withLock { connections in
            for c in connections { c.close() }
            connections.removeAll()
        }
        for _ in 0..<size { slots.signal() }
    }

    /// Adds `connect_timeout=5` unless the URL sets one, so an unreachable server fails fast.
    static func withConnectTimeout(_ url: String) -> String {
        guard !url.contains("connect_timeout") else { return url }
        return url + (url.contains("?") ? "&" : "?") + "connect_timeout=5"
    }
}
