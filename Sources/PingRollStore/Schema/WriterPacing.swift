import PingRollCore
import Foundation
import Synchronization

/// Write batches of the ingest lane submitted and not yet committed, in this process (the group
/// committer counts them): long work waits for them to land before its next transaction.
public enum IngestPressure {
    static let pending = Atomic<Int>(0)

    public static var waiting: Int { pending.load(ordering: .relaxed) }
    static func submitted(_ n: Int) { pending.add(n, ordering: .relaxed) }
    static func committed(_ n: Int) { pending.subtract(n, ordering: .relaxed) }
}

/// Sizes the write transactions of long work (a rebuild, an import, retention, recompression)
/// by elapsed time instead of by a fixed count, so that each holds the writer for about
/// `hold` whatever the rows cost, and lets ingest write between them:
///
/// - a write batch of this process that is waiting (`IngestPressure`) goes first: the next
///   transaction waits until it landed (at most a second, so long work still progresses);
/// - while another process writes (`contended`, e.g. a serving pingroll beside a CLI rebuild)
///   transactions are cut to half of `hold` and the writer is left free for as long as each
///   held it, so a ping waits for at most one short transaction and finds the writer free half
///   of the time;
/// - otherwise the writer is only released for a moment between transactions.
///
/// The next transaction's size is what the last one did per second times the hold (at most
/// twice the last size, so one cheap step cannot make the next one huge), within `1...maxSize`.
public struct WriterPacing {
    /// How long one transaction of long work may hold the writer, about.
    public static let defaultHold: Duration = .milliseconds(100)

    public let hold: Duration
    public let maxSize: Int
    /// How many units the next transaction takes on.
    public private(set) var size: Int
    /// The longest transaction so far (for the figures a job reports).
    public private(set) var longest: Duration = .zero
    public private(set) var transactions = 0

    /// Whether another process wrote since the last look (see `SQLBackedStore.otherWritersActive`).
    private let contended: (() -> Bool)?
    /// Until when another writer counts as active (a look finds it only now and then).
    private var contendedUntil: ContinuousClock.Instant?

    public init(hold: Duration = defaultHold, initial: Int = 16, maxSize: Int = 1_000_000, contended: (() -> Bool)? = nil) {
        self.hold = hold
        self.maxSize = max(1, maxSize)
        self.contended = contended
        size = max(1, min(initial, self.maxSize))
    }

    /// Whether another writer was seen in the last two seconds.
    var isContended: Bool { contendedUntil.map { ContinuousClock.now < $0 } ?? false }

    /// The hold the next transaction is sized for.
    var currentHold: Duration { isContended ? hold / 2 : hold }

    /// Runs one transaction of `step` (given the size to take on, answering what it did and how
    /// many units that was), adapts the next size to the time it took, then pauses.
    public mutating func step<T>(_ body: (Int) throws(StorageError) -> (T, units: Int)) throws(StorageError) -> T {
        let clock = ContinuousClock()
        let started = clock.now
        let (result, units) = try body(size)
        let elapsed = clock.now - started
        if contended?() == true { contendedUntil = clock.now + .seconds(2) }
        record(units: units, elapsed: elapsed)
        pause(after: elapsed)
        return result
    }

    mutating func record(units: Int, elapsed: Duration) {
        transactions += 1
        longest = max(longest, elapsed)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let target = currentHold
        let holdSeconds = Double(target.components.seconds) + Double(target.components.attoseconds) / 1e18
        guard units > 0 else { return }
        let perSecond = Double(units) / max(seconds, 1e-6)
        let wanted = (perSecond * holdSeconds * 0.9).rounded(.down)
        let next = wanted.isFinite ? Int(min(wanted, Double(maxSize))) : maxSize
        size = max(1, min(next, size * 2, maxSize))
    }

    /// Lets a writer that waited for this transaction in (a blocked thread of this process, or
    /// another process polling the SQLite lock) take the writer before the next one.
    func pause(after elapsed: Duration) {
        func sleep(_ d: Duration) { Thread.sleep(forTimeInterval: Double(d.components.attoseconds) / 1e18 + Double(d.components.seconds)) }
        sleep(isContended ? max(.milliseconds(3), elapsed) : .milliseconds(2))
        // This process's pings first: wait for the batches queued meanwhile to land.
        let deadline = ContinuousClock.now + .seconds(1)
        while IngestPressure.waiting > 0 && ContinuousClock.now < deadline { sleep(.milliseconds(1)) }
    }
}
