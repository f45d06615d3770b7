import Foundation
import Synchronization
import Testing
import PingRollCore
@testable import PingRollStore

@Suite struct GroupCommitterTests {
    @Test(arguments: Backend.available)
    func concurrentSubmitsAreAllStoredExactlyOnce(backend: Backend) throws {
        let db = TestDatabase(backend)
        let store = try db.open()
        let committer = GroupCommitter(store: store, logger: testLogger)
        let results = Mutex<[Int: WriteOutcome]>([:])
        // 400 submissions of 100 distinct pings from 8 threads: each ping four times.
        DispatchQueue.concurrentPerform(iterations: 400) { i in
            let record = pingRecord(uuid: "u-\(i % 100)", recordedAt: "2024-01-15T10:00:00Z")
            if case .success(let outcome) = committer.submitAndWait(.ping(record)) {
                results.withLock { $0[i] = outcome }
            }
        }
        committer.shutdown()
        defer { store.close() }
        let outcomes = results.withLock { $0 }
        #expect(outcomes.count == 400)
        #expect(try store.statistics().pings == 100)
        for base in 0..<100 {
            let ids = Set((0..<4).compactMap { outcomes[base + 100 * $0]?.id })
            #expect(ids.count == 1, "every submission of ping \(base) got the same id")
        }
        let stored = outcomes.values.filter { if case .stored = $0 { true } else { false } }
        #expect(stored.count == 100)
    }

    @Test func shutdownCommitsWhatWasQueuedAndRefusesLaterSubmits() throws {
        let db = TestDatabase()
        let store = try db.open()
        let committer = GroupCommitter(store: store, logger: testLogger)
        let completed = Atomic<Int>(0)
        for i in 0..<50 {
            committer.submit(.ping(pingRecord(uuid: "u-\(i)", recordedAt: "2024-01-15T10:00:00Z"))) { result in
                if case .success = result { completed.add(1, ordering: .relaxed) }
            }
        }
        committer.shutdown()
        #expect(completed.load(ordering: .relaxed) == 50)
        let late = committer.submitAndWait(.ping(pingRecord(uuid: "late", recordedAt: "2024-01-15T10:00:00Z")))
        #expect(throws: StorageError.self) { try late.get() }
        #expect(try store.statistics().pings == 50)
        store.close()
    }

    @Test func aFullQueueRefusesWithOverloaded() throws {
        let db = TestDatabase()
        let store = try db.open()
        // A queue of one byte holds one item at a time: while the writer is busy, the next is refused.
        let committer = GroupCommitter(store: store, maxQueuedBytes: 1, logger: testLogger)
        let refused = Atomic<Int>(0)
        let done = DispatchGroup()
        for i in 0..<200 {
            done.enter()
            committer.submit(.ping(pingRecord(uuid: "u-\(i)", recordedAt: "2024-01-15T10:00:00Z"))) { result in
                if case .failure(let e) = result, e.kind == .overloaded { refused.add(1, ordering: .relaxed) }
                done.leave()
            }
        }
        done.wait()
        committer.shutdown()
        defer { store.close() }
        let stored = try store.statistics().pings
        #expect(refused.load(ordering: .relaxed) > 0)
        #expect(stored + Int64(refused.load(ordering: .relaxed)) == 200)
    }

    @Test func aStoreFailureFailsTheWritesItHolds() throws {
        let db = TestDatabase()
        let store = try db.open()
        store.close()  // every write now fails with .closed
        let committer = GroupCommitter(store: store, logger: testLogger)
        let result = committer.submitAndWait(.ping(pingRecord(recordedAt: "2024-01-15T10:00:00Z")))
        committer.shutdown()
        #expect(throws: StorageError.self) { try result.get() }
    }
}

@Suite struct LogLimiterTests {
    @Test func aRepeatedLineIsLetThroughABurstAtATimeAndCountsWhatItHeldBack() {
        let limiter = LogLimiter(burst: 3, windowSeconds: 0.2)
        let first = (0..<10).map { _ in limiter.admit("k") }
        #expect(first.filter(\.admitted).count == 3)
        #expect(limiter.admit("other").admitted, "keys are limited separately")
        usleep(250_000)
        let next = limiter.admit("k")
        #expect(next.admitted && next.suppressed == 7)
    }
}
