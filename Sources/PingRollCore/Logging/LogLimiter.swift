import Glibc
import Synchronization

/// Lets a repeated log line through at most `burst` times per `windowSeconds` and says how many
/// were held back, so a flood of bad requests (or a full disk) cannot flood the log.
public final class LogLimiter: Sendable {
    private struct Window { var start: UInt64 = 0; var passed = 0; var suppressed = 0 }
    private let windows = Mutex<[String: Window]>([:])
    public let burst: Int
    public let windowSeconds: Double

    public init(burst: Int = 5, windowSeconds: Double = 10) {
        self.burst = burst
        self.windowSeconds = windowSeconds
    }

    /// Whether a line with `key` may be logged now; when it may, also how many lines of that key
    /// were suppressed since the last one that passed.
    public func admit(_ key: String) -> (admitted: Bool, suppressed: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let now = UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
        return windows.withLock { all in
            var w = all[key] ?? Window()
            if now &- w.start > UInt64(windowSeconds * 1e9) {
                w.start = now
                w.passed = 0
            }
            defer { all[key] = w }
            guard w.passed < burst else {
                w.suppressed += 1
                return (false, 0)
            }
            w.passed += 1
            let held = w.suppressed
            w.suppressed = 0
            return (true, held)
        }
    }
}
