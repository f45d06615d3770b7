import FoundationEssentials

/// An instant as milliseconds since the Unix epoch (UTC).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// The current time, from the system clock.
    public static func now() -> Timestamp {
        Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// RFC 3339 text in UTC with millisecond precision, e.g. `2024-01-15T10:00:00.000Z`.
    public var description: String {
        let days = floorDiv(milliseconds, 86_400_000)
        let msOfDay = milliseconds - days * 86_400_000
        let (y, m, d) = civilFromDays(days)
        let h = msOfDay / 3_600_000, mi = msOfDay / 60_000 % 60, s = msOfDay / 1000 % 60, ms = msOfDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }

    /// Parses the timestamp forms GitLab has sent as `recorded_at`:
    /// `2024-01-15T10:00:00Z`, `2024-01-15T10:00:00.123+02:00`, `2024-01-15 10:00:00 UTC`,
    /// `2024-01-15 10:00:00 +0000`. Fractions beyond milliseconds are truncated.
    /// Returns nil for anything else, including impossible dates.
    public static func parseISO8601(_ text: String) -> Timestamp? {
        var p = TextCursor(Array(text.utf8))
        guard let year = p.digits(4), p.take("-"), let month = p.digits(2), p.take("-"), let day = p.digits(2),
              p.take("T") || p.take("t") || p.take(" "),
              let hour = p.digits(2), p.take(":"), let minute = p.digits(2), p.take(":"), let second = p.digits(2)
        else { return nil }
        var millis: Int64 = 0
        if p.take(".") || p.take(",") {
            var count = 0
            while let digit = p.digit() {
                if count < 3 { millis = millis * 10 + digit }
                count += 1
            }
            guard count > 0 else { return nil }
            while count < 3 { millis *= 10; count += 1 }
        }
        _ = p.take(" ")
        var offsetMinutes: Int64 = 0
        if p.take("Z") || p.take("z") || p.takeWord("UTC") || p.takeWord("GMT") {
            // UTC
        } else if let sign = p.sign() {
            guard let oh = p.digits(2) else { return nil }
            _ = p.take(":")
            let om = p.digits(2) ?? 0
            guard oh <= 23, om <= 59 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard p.atEnd, (1...12).contains(month), (1...daysInMonth(year, month)).contains(day),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetMinutes * 60
        return Timestamp(milliseconds: seconds * 1000 + millis)
    }
}

private struct TextCursor {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { i == bytes.count }

    mutating func take(_ c: Unicode.Scalar) -> Bool {
        guard i < bytes.count, bytes[i] == UInt8(ascii: c) else { return false }
        i += 1
        return true
    }

    mutating func takeWord(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard bytes.count - i >= w.count, Array(bytes[i..<i + w.count]) == w else { return false }
        i += w.count
        return true
    }

    mutating func digit() -> Int64? {
        guard i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 else { return nil }
        defer { i += 1 }
        return Int64(bytes[i] - 0x30)
    }

    mutating func digits(_ count: Int) -> Int64? {
        let start = i
        var v: Int64 = 0
        for _ in 0..<count {
            guard let d = digit() else { i = start; return nil }
            v = v * 10 + d
        }
        return v
    }

    mutating func sign() -> Int64? {
        if take("+") { return 1 }
        if take("-") { return -1 }
        return nil
    }
}

/// Division rounding toward negative infinity; `b` must be positive. Cannot overflow.
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a + 1) / b - 1 }

func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

func isLeapYear(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
    switch m {
    case 2: return isLeapYear(y) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = floorDiv(y, 400)
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number since 1970-01-01.
func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = floorDiv(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}
