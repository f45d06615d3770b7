import Foundation
import PingRollCore
import PingRollStore
import Synchronization

/// `pingroll import`: NDJSON pings (one per line, plain or gzip) through the same validation,
/// dedupe and rollup path as HTTP ingest, in large transactions. Extraction and compression of
/// a batch run on all cores; its write is one transaction. Re-running an import changes nothing
/// (every ping is then a duplicate), so an interrupted import resumes by running it again.
public final class BulkImporter: Sendable {
    public struct Progress: Sendable {
        public var lines = 0
        public var stored = 0
        public var duplicates = 0
        public var rejected = 0
        /// Bytes of the file read so far (compressed bytes for .gz) and its size when known.
        public var bytesRead: Int64 = 0
        public var totalBytes: Int64?
        public var payloadBytes: Int64 = 0
        /// The range of `recorded_at` of the pings stored (new ones).
        public var firstRecorded: Timestamp?
        public var lastRecorded: Timestamp?

        public init() {}
    }

    let store: any PingWriting & RollupStoring
    let intake: PingIntake
    public let batchSize: Int

    public init(store: any PingWriting & RollupStoring, limits: IngestLimits = IngestLimits(), batchSize: Int = 256) {
        self.store = store
        self.intake = PingIntake(catalog: store.catalog, limits: limits)
        self.batchSize = batchSize
    }

    /// Imports one file (`-` for standard input) until it ends or `stop` turns true (then the
    /// current batch is committed first). `report` is called after every batch.
    public func run(path: String, stop: borrowing Atomic<Bool>, report: (Progress) -> Void) throws -> Progress {
        let handle: FileHandle
        var progress = Progress()
        // The write of one batch overlaps the extraction of the next (at most one write in flight).
        let pipeline = WritePipeline(store: store)
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else { throw ImportError(description: "cannot read \(path)") }
            handle = h
            progress.totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        }
        defer { if path != "-" { try? handle.close() } }
        let gzip = path.hasSuffix(".gz") ? try GzipStream() : nil
        let name = path == "-" ? "stdin" : (path as NSString).lastPathComponent
        var pending: [UInt8] = []
        var batch: [(line: Int, bytes: [UInt8])] = []
        var lineNumber = 0
        var eof = false
        // A compressed file that is damaged or ends mid-stream: what to say once the complete
        // lines before it are stored.
        var damage: String?
        while !eof && !stop.load(ordering: .relaxed) {
            let data = try handle.read(upToCount: 1 << 20) ?? Data()
            if data.isEmpty { eof = true }
            progress.bytesRead += Int64(data.count)
            let bytes: [UInt8]
            if let gzip {
                do throws(GzipStream.Failure) {
                    bytes = try gzip.feed(Array(data))
                } catch {
                    damage = error == .corrupt ? "the gzip data is damaged at byte \(gzip.consumed)" : "\(error)"
                    break
                }
                if eof && !gzip.isComplete {
                    damage = "the gzip stream ends unfinished at byte \(progress.bytesRead) (the file is cut short)"
                    break
                }
            } else {
                bytes = Array(data)
            }
            pending += bytes
            var start = 0
            var newline = pending.firstIndex(of: 0x0A)
            while let end = newline {
                lineNumber += 1
                var line = Array(pending[start..<end])
                if line.last == 0x0D { line.removeLast() }
                if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { batch.append((lineNumber, line)) }
                start = end + 1
                newline = pending[start...].firstIndex(of: 0x0A)
                if batch.count >= batchSize {
                    try pipeline.submit(prepare(batch, file: name), lines: batch.count, bytes: batch.reduce(0) { $0 + $1.bytes.count })
                    batch.removeAll(keepingCapacity: true)
                    report(pipeline.merged(into: progress))
                    if stop.load(ordering: .relaxed) { break }
                }
            }
            pending.removeSubrange(0..<start)
            if eof && !pending.isEmpty && !pending.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                lineNumber += 1
                batch.append((lineNumber, pending))
                pending.removeAll()
            }
        }
        if !batch.isEmpty {
            try pipeline.submit(prepare(batch, file: name), lines: batch.count, bytes: batch.reduce(0) { $0 + $1.bytes.count })
        }
        try pipeline.finish()
        progress = pipeline.merged(into: progress)
        report(progress)
        if let damage {
            // The partial line at the break is not imported: it is not the line the file had.
            throw ImportError(description: "\(damage); lines 1 to \(lineNumber) were imported (\(progress.stored) new, \(progress.duplicates) duplicates, "
                              + "\(progress.rejected) rejected) and the rest of the file is lost; repair or fetch the file again and rerun the import "
                              + "(lines already stored are recognised)")
        }
        return progress
    }

    /// Extracts and compresses a batch on all cores; rejected lines become quarantine entries.
    private func prepare(_ batch: [(line: Int, bytes: [UInt8])], file: String) -> [WriteItem] {
        let items = Mutex([WriteItem?](repeating: nil, count: batch.count))
        let now = Timestamp.now()
        DispatchQueue.concurrentPerform(iterations: batch.count) { i in
            let (line, bytes) = batch[i]
            let item: WriteItem
            switch intake.prepare(bytes, receivedAt: now) {
            case .success(let record): item = .ping(record)
            case .failure(let refusal):
                var record = QuarantineRecord(receivedAt: now, route: "import", status: refusal.status,
                                              reason: refusal.code, message: "\(file) line \(line): \(refusal.message)",
                                              remoteAddress: nil, contentType: "application/x-ndjson", contentEncoding: nil,
                                              bodySize: bytes.count, body: bytes)
                // Importing the same file again does not quarantine the same line again.
                record.unique = true
                item = .quarantine(record)
            }
            items.withLock { $0[i] = item }
        }
        return items.withLock { $0 }.compactMap { $0 }
    }
}

/// Writes prepared batches on a thread of its own, one at a time, counting what happened.
final class WritePipeline: Sendable {
    let store: any PingWriting
    private let queue = DispatchQueue(label: "pingroll-import-writer")
    private let slot = DispatchSemaphore(value: 1)
    private let state = Mutex<(counts: BulkImporter.Progress, failure: String?)>((BulkImporter.Progress(), nil))

    init(store: any PingWriting) { self.store = store }

    /// Waits while the previous batch is still being written, then hands this one over.
    func submit(_ items: [WriteItem], lines: Int, bytes: Int) throws {
        slot.wait()
        if let failure = state.withLock({ $0.failure }) { slot.signal(); throw ImportError(description: failure) }
        queue.async { [self] in
            defer { slot.signal() }
            do {
                let outcomes = try store.write(items)
                state.withLock { s in
                    s.counts.lines += lines
                    s.counts.payloadBytes += Int64(bytes)
                    for (item, outcome) in zip(items, outcomes) {
                        switch (item, outcome) {
                        case (.ping(let ping), .stored):
                            s.counts.stored += 1
                            let at = ping.facts.recordedAt
                            s.counts.firstRecorded = min(s.counts.firstRecorded ?? at, at)
                            s.counts.lastRecorded = max(s.counts.lastRecorded ?? at, at)
                        case (.ping, .duplicate): s.counts.duplicates += 1
                        default: s.counts.rejected += 1
                        }
                    }
                }
            } catch {
                state.withLock { $0.failure = "\(error)" }
            }
        }
    }

    /// Waits for the last write.
    func finish() throws {
        slot.wait()
        slot.signal()
        if let failure = state.withLock({ $0.failure }) { throw ImportError(description: failure) }
    }

    /// The byte counters of `progress` with the written counts so far.
    func merged(into progress: BulkImporter.Progress) -> BulkImporter.Progress {
        var p = progress
        let c = state.withLock { $0.counts }
        p.lines = c.lines; p.stored = c.stored; p.duplicates = c.duplicates; p.rejected = c.rejected; p.payloadBytes = c.payloadBytes
        p.firstRecorded = c.firstRecorded; p.lastRecorded = c.lastRecorded
        return p
    }
}

public struct ImportError: Error, CustomStringConvertible {
    public let description: String
}
