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

        public init() {}
    }

    let store: any PingStore
    let extractor: PayloadExtractor
    let limits: IngestLimits
    public let batchSize: Int

    public init(store: any PingStore, limits: IngestLimits = IngestLimits(), batchSize: Int = 256) {
        self.store = store
        self.extractor = PayloadExtractor(maxDepth: limits.maxDepth, catalog: store.catalog)
        self.limits = limits
        self.batchSize = batchSize
    }

    /// Imports one file (`-` for standard input) until it ends or `stop` turns true (then the
    /// current batch is committed first). `report` is called after every batch.
    public func run(path: String, stop: borrowing Atomic<Bool>, report: (Progress) -> Void) throws -> Progress {
        let handle: FileHandle
        var progress = Progress()
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
        while !eof && !stop.load(ordering: .relaxed) {
            let data = try handle.read(upToCount: 1 << 20) ?? Data()
            if data.isEmpty { eof = true }
            progress.bytesRead += Int64(data.count)
            let bytes = try gzip.map { g in try g.feed(Array(data)) } ?? Array(data)
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
                    try commit(batch, file: name, into: &progress)
                    batch.removeAll(keepingCapacity: true)
                    report(progress)
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
            try commit(batch, file: name, into: &progress)
            report(progress)
        }
        return progress
    }

    private func commit(_ batch: [(line: Int, bytes: [UInt8])], file: String, into progress: inout Progress) throws {
        let items = Mutex([WriteItem?](repeating: nil, count: batch.count))
        let now = Timestamp.now()
        DispatchQueue.concurrentPerform(iterations: batch.count) { i in
            let (line, bytes) = batch[i]
            let item: WriteItem
            do {
                guard bytes.count <= limits.maxDecompressedBytes else {
                    throw PayloadRejection.invalidField(name: "line", problem: "is longer than \(limits.maxDecompressedBytes) bytes")
                }
                let facts = try extractor.extract(bytes, receivedAt: now)
                item = .ping(PingRecord(facts: facts, receivedAt: now, payload: PayloadCodec.compress(bytes)))
            } catch let rejection as PayloadRejection {
                item = .quarantine(QuarantineRecord(receivedAt: now, route: "import", status: rejection.isMalformed ? 400 : 422,
                                                    reason: rejection.code, message: "\(file) line \(line): \(rejection)",
                                                    remoteAddress: nil, contentType: "application/x-ndjson", contentEncoding: nil,
                                                    bodySize: bytes.count, body: bytes))
            } catch {
                return
            }
            items.withLock { $0[i] = item }
        }
        let ready = items.withLock { $0 }.compactMap { $0 }
        let outcomes = try store.write(ready)
        progress.lines += batch.count
        progress.payloadBytes += Int64(batch.reduce(0) { $0 + $1.bytes.count })
        for (item, outcome) in zip(ready, outcomes) {
            switch (item, outcome) {
            case (.ping, .stored): progress.stored += 1
            case (.ping, .duplicate): progress.duplicates += 1
            default: progress.rejected += 1
            }
        }
    }
}

public struct ImportError: Error, CustomStringConvertible {
    public let description: String
}
