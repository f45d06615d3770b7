import Foundation
import PingRollCore
import PingRollStore

/// `storage [--installations N] [--weeks W] [--bytes B]`: stored bytes per ping of a realistic
/// weekly sequence (each installation's key set fixed by its version, counters growing week to
/// week) for each storage form measured, with the compression time per ping of each. The
/// ceiling is the raw size; every ratio is raw / stored, in the same run.
func storageBench() throws {
    let installations = option("--installations", 40), weeks = option("--weeks", 12), bytes = option("--bytes", 150_000)
    var g = PingGenerator(seed: 11)
    let base = Timestamp.parseISO8601("2024-01-01T00:00:00Z")!.milliseconds
    // pings[inst][week]
    var pings: [[[UInt8]]] = Array(repeating: [], count: installations)
    for week in 0..<weeks {
        for inst in 0..<installations {
            g.weekly = (inst, week)
            let at = Timestamp(milliseconds: base + Int64(week * 7 + inst % 7) * 86_400_000)
            pings[inst].append(Array(g.ping(index: inst, installations: installations, bytes: bytes, recordedAt: at).utf8))
        }
    }
    let all = pings.flatMap { $0 }
    let raw = all.reduce(0) { $0 + $1.count }
    let n = Double(all.count)

    func timed(_ body: () throws -> Int) rethrows -> (bytes: Int, microsPerPing: Double) {
        let start = Date()
        let total = try body()
        return (total, Date().timeIntervalSince(start) * 1e6 / n)
    }

    // (1) Today: zstd-1 of each whole ping.
    let whole = timed { all.reduce(0) { $0 + PayloadCodec.compress($1).bytes.count } }
    // (2) The stored form: values stream per ping (split + hash + zstd-1), distinct skeletons once (zstd-1).
    var skeletons: [UInt64: [UInt8]] = [:]
    let shaped = timed {
        all.reduce(0) { sum, ping in
            let payload = PayloadCodec.compressPing(ping)
            if let s = payload.skeleton { skeletons[JSONShape.hash(s)] = s }
            return sum + payload.bytes.count
        }
    }
    let splitOnly = timed { all.reduce(0) { $0 + (JSONShape.split($1)?.values.count ?? 0) } }
    let hashOnly = timed { skeletons.values.reduce(0) { $0 + Int(JSONShape.hash($1) & 1) } }
    print(String(format: "split alone %.0f µs/ping; hash of one skeleton %.1f µs", splitOnly.microsPerPing, hashOnly.microsPerPing * n / Double(max(1, skeletons.count))))
    let skeletonBytes = skeletons.values.reduce(0) { $0 + PayloadCodec.compress($1).bytes.count }
    // (3) Alternative: zstd-1 with the installation's previous ping as dictionary (a read and a
    //     decompression of that ping on every ingest; a chain on every read).
    func zstd(_ src: [UInt8], dictionary: [UInt8]?, level: Int32) -> Int {
        PayloadCodec.compressedSize(src, dictionary: dictionary, level: level)
    }
    let previous = timed {
        pings.reduce(0) { sum, weeksOf in
            sum + weeksOf.enumerated().reduce(0) { $0 + zstd($1.element, dictionary: $1.offset > 0 ? weeksOf[$1.offset - 1] : nil, level: 1) }
        }
    }
    // (4) Alternative: the values stream against the previous week's values stream as dictionary.
    let valuesDelta = timed {
        pings.reduce(0) { sum, weeksOf in
            let streams = weeksOf.map { JSONShape.split($0)!.values }
            return sum + streams.enumerated().reduce(0) { $0 + zstd($1.element, dictionary: $1.offset > 0 ? streams[$1.offset - 1] : nil, level: 1) }
        }
    }
    // (5) Alternative: the values stream at zstd-3.
    let values3 = timed { all.reduce(0) { $0 + zstd(JSONShape.split($1)!.values, dictionary: nil, level: 3) } }
    // (6) Probe: the values stream with canonical integers as varints (not a stored form yet).
    func packed(_ values: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count)
        for token in values.split(separator: 0, omittingEmptySubsequences: false).dropLast() {
            let text = String(decoding: token, as: UTF8.self)
            if let v = Int64(text), String(v) == text {
                let z = UInt64(bitPattern: (v << 1) ^ (v >> 63))
                var x = z
                out.append(0x01)
                repeat { var b = UInt8(x & 0x7f); x >>= 7; if x != 0 { b |= 0x80 }; out.append(b) } while x != 0
            } else {
                out += token
                out.append(0)
            }
        }
        return out
    }
    let varints = timed { all.reduce(0) { $0 + zstd(packed(JSONShape.split($1)!.values), dictionary: nil, level: 1) } }
    // (7) Alternative: zstd-3 of each whole ping (a higher level instead of a new form).
    let whole3 = timed { all.reduce(0) { $0 + zstd($1, dictionary: nil, level: 3) } }

    let perPing = Double(raw) / n
    func row(_ name: String, _ stored: Double, _ micros: Double) {
        print(name.padding(toLength: 58, withPad: " ", startingAt: 0) + String(format: " %8.0f B/ping  ratio %5.1f  %7.0f µs/ping", stored, perPing / stored, micros))
    }
    print(String(format: "storage: %d installations × %d weeks = %d pings of %.0f B raw (the ceiling: ratio 1.0)", installations, weeks, all.count, perPing))
    row("zstd-1 per ping (before)", Double(whole.bytes) / n, whole.microsPerPing)
    row("zstd-1 per ping, level 3", Double(whole3.bytes) / n, whole3.microsPerPing)
    row("zstd-1 against the previous ping (dictionary)", Double(previous.bytes) / n, previous.microsPerPing)
    row("skeleton once + zstd-1 values (stored form, shape-zstd)", Double(shaped.bytes + skeletonBytes) / n, shaped.microsPerPing)
    row("skeleton once + zstd-1 of values with integers as varints", Double(varints.bytes + skeletonBytes) / n, varints.microsPerPing)
    row("skeleton once + zstd-3 values", Double(values3.bytes + skeletonBytes) / n, values3.microsPerPing)
    row("skeleton once + values against the previous week's values", Double(valuesDelta.bytes + skeletonBytes) / n, valuesDelta.microsPerPing)
    print("distinct skeletons: \(skeletons.count) (\(skeletonBytes) B stored)")
    let ratio = perPing / (Double(shaped.bytes + skeletonBytes) / n)
    print(#"{"bench":"storage","pings":\#(all.count),"raw_bytes_per_ping":\#(Int(perPing)),"zstd1_bytes_per_ping":\#(whole.bytes / all.count),"shape_bytes_per_ping":\#((shaped.bytes + skeletonBytes) / all.count),"shape_ratio":\#(String(format: "%.1f", ratio)),"zstd1_us_per_ping":\#(Int(whole.microsPerPing)),"shape_us_per_ping":\#(Int(shaped.microsPerPing)),"skeletons":\#(skeletons.count)}"#)
}
