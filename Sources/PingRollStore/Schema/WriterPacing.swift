import Foundation

/// Sizes the write transactions of long work (a rebuild, an import, retention, recompression)
/// by elapsed time instead of by a fixed count, so that each holds the writer for about
/// `hold` whatever the rows cost, and leaves the writer free for a moment after each one so a
/// write batch of the ingest lane that waited goes next.
///
/// The next transaction's size is what the last one did per second times `hold` (at most
/// twice the last size, so one cheap step cannot make the next one huge), within `1...maxSize`.
public struct WriterPacing: Sendable {
    /// How long one transaction of long work may hold the writer, about.
    public static let defaultHold: Duration = .milliseconds(100)

    public let hold: Duration
    public let maxSize: Int
    /// How many units the next transaction takes on.
    public private(set) var size: Int
    /// The longest transaction so far (for the figures a job reports).
    public private(set) var longest: Duration = .zero
    public private(set) var transactions = 0
    /// How many units the last transaction did.
    public private(set) var lastUnits = 0

    public init(hold: Duration = defaultHold, initial: Int = 16, maxSize: Int = 1_000_000) {
        self.hold = hold
        self.maxSize = max(1, maxSize)
        size = max(1, min(initial, self.maxSize))
    }

    /// Runs one transaction of `step` (given the size to take on, answering what it did and how
    /// many units that was), adapts the next size to the time it took, then pauses.
    public mutating func step<T>(_ body: (Int) throws(StorageError) -> (T, units: Int)) throws(StorageError) -> T {
        let clock = ContinuousClock()
        let started = clock.now
        let (result, units) = try body(size)
        let elapsed = clock.now - started
        record(units: units, elapsed: elapsed)
        pause(after: elapsed)
        return result
    }

    mutating func record(units: Int, elapsed: Duration) {
        transactions += 1
        lastUnits = units
        longest = max(longest, elapsed)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let holdSeconds = Double(hold.components.seconds) + Double(hold.components.attoseconds) / 1e18
        guard units > 0 else { return }
        let perSecond = Double(units) / max(seconds, 1e-6)
        let wanted = (perSecond * holdSeconds * 0.9).rounded(.down)
        let next = wanted.isFinite ? Int(min(wanted, Double(maxSize))) : maxSize
        size = max(1, min(next, size * 2, maxSize))
    }

    /// Lets a writer that waited for this transaction in (a blocked thread of this process, or
    /// another process polling the SQLite lock) take the writer before the next one.
    func pause(after elapsed: Duration) {
        let pause = max(Duration.milliseconds(3), elapsed / 20)
        Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds))
    }
}
