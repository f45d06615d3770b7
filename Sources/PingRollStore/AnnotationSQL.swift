import Synchronization
import PingRollCore

/// Annotations: listed by time, added and deleted by hand; pingroll's own kinds are recorded
/// under a unique key, so each is written once however many collectors or restarts see it.
public protocol AnnotationStoring: AnyObject, Sendable {
    /// Those with `at` in `from..<to`, oldest first; with `metric`, those about it and those about all.
    func annotations(from: Timestamp, to: Timestamp, metric: String?) throws(StorageError) -> [Annotation]
    /// Stores a manual annotation; answers it with its id.
    func addAnnotation(_ annotation: Annotation) throws(StorageError) -> Annotation
    /// Deletes a manual annotation: nil when there is none, false when it is pingroll's own (kept).
    func deleteAnnotation(id: Int64) throws(StorageError) -> Bool?
    /// Records one of pingroll's own annotations under `key`, unless one with the key exists.
    func recordAnnotation(_ annotation: Annotation, key: String) throws(StorageError)
}

enum AnnotationSQL {
    static let columns = ColumnList(["id", "at", "kind", "text", "metric"])

    static func record(_ e: any SQLExecutor, _ a: Annotation, key: String?) throws(StorageError) {
        try e.query("""
            INSERT INTO annotations (at, kind, text, metric, auto, unique_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (unique_key) DO NOTHING
            """, [.integer(a.at.milliseconds), .text(a.kind.rawValue), .text(a.text), SQLValue(a.metric), .integer(a.auto ? 1 : 0),
                  SQLValue(key), .integer(Timestamp.now().milliseconds)], operation: "recording an annotation")
    }

    static func annotation(_ r: NamedRow) throws(StorageError) -> Annotation {
        let kindText = try r.requiredString("kind")
        guard let kind = Annotation.Kind(rawValue: kindText) else {
            throw StorageError(.corrupt, operation: r.operation, reason: "an annotation has the unknown kind \(kindText)")
        }
        return Annotation(id: try r.requiredInt64("id"), at: Timestamp(milliseconds: try r.requiredInt64("at")), kind: kind,
                          text: try r.requiredString("text"), metric: try r.string("metric"))
    }
}

extension SQLBackedStore {
    public func annotations(from: Timestamp, to: Timestamp, metric: String?) throws(StorageError) -> [Annotation] {
        let op = "listing annotations"
        return try read { e throws(StorageError) in
            let rows = metric == nil
                ? try AnnotationSQL.columns.select(e, "FROM annotations WHERE at >= $1 AND at < $2 ORDER BY at, id LIMIT 10000",
                                                   [.integer(from.milliseconds), .integer(to.milliseconds)], operation: op)
                : try AnnotationSQL.columns.select(e, "FROM annotations WHERE at >= $1 AND at < $2 AND (metric IS NULL OR metric = $3) ORDER BY at, id LIMIT 10000",
                                                   [.integer(from.milliseconds), .integer(to.milliseconds), SQLValue(metric)], operation: op)
            return try rows.map { r throws(StorageError) in try AnnotationSQL.annotation(r) }
        }
    }

    public func addAnnotation(_ annotation: Annotation) throws(StorageError) -> Annotation {
        let op = "adding an annotation"
        return try writeTransaction(op) { e throws(StorageError) in
            var stored = annotation
            stored.kind = .manual
            stored.id = try e.scalarInt64("""
                INSERT INTO annotations (at, kind, text, metric, auto, unique_key, created_at) VALUES ($1, $2, $3, $4, 0, NULL, $5) RETURNING id
                """, [.integer(annotation.at.milliseconds), .text(Annotation.Kind.manual.rawValue), .text(annotation.text), SQLValue(annotation.metric),
                      .integer(Timestamp.now().milliseconds)], operation: op)
            return stored
        }
    }

    public func deleteAnnotation(id: Int64) throws(StorageError) -> Bool? {
        let op = "deleting an annotation"
        return try writeTransaction(op) { e throws(StorageError) -> Bool? in
            guard let auto = try e.optionalScalarInt64("SELECT auto FROM annotations WHERE id = $1", [.integer(id)], operation: op) else { return nil }
            guard auto == 0 else { return false }
            try e.query("DELETE FROM annotations WHERE id = $1", [.integer(id)], operation: op)
            return true
        }
    }

    public func recordAnnotation(_ annotation: Annotation, key: String) throws(StorageError) {
        try writeTransaction("recording an annotation") { e throws(StorageError) in try AnnotationSQL.record(e, annotation, key: key) }
    }
}

/// When the newest ping was received, as the writers of this process last saw it: a ping after
/// six hours without one (while the week before averaged one an hour or more) writes an
/// `ingest_gap` annotation, at the gap's start.
final class IngestGapWatch: Sendable {
    private let lastReceived = Mutex<Int64?>(nil)
    static let gapMs: Int64 = 6 * 3_600_000

    /// Called in a write batch's transaction with the earliest and latest receipt time of the
    /// pings it stored.
    func batch(_ e: any SQLExecutor, earliest: Int64, latest: Int64, firstID: Int64) throws(StorageError) {
        let op = "watching for gaps in ingest"
        let known = lastReceived.withLock { $0 }
        lastReceived.withLock { $0 = max($0 ?? latest, latest) }
        // What this process stored last says there is no gap: nothing to read. Otherwise the
        // database says, for another collector on it may have stored pings meanwhile: the ping
        // stored last before this batch (ids grow with receipt).
        if let known, earliest &- known < Self.gapMs { return }
        let last = try e.optionalScalarInt64("SELECT received_at FROM pings WHERE id < $1 ORDER BY id DESC LIMIT 1", [.integer(firstID)], operation: op)
        guard let last, earliest &- last >= Self.gapMs else { return }
        // The seven days before the gap averaged at least one ping an hour (by day of receipt).
        let day = last / 86_400_000
        let week = try e.optionalScalarInt64("SELECT CAST(COALESCE(SUM(accepted), 0) AS BIGINT) FROM ingest_daily WHERE day >= $1 AND day <= $2",
                                             [.integer(day - 7), .integer(day)], operation: op) ?? 0
        guard week >= 7 * 24 else { return }
        let minutes = (earliest - last) / 60_000
        let text = "no ping accepted for \(minutes / 60) h \(minutes % 60) min"
        try AnnotationSQL.record(e, Annotation(at: Timestamp(milliseconds: last), kind: .ingestGap, text: text, metric: nil), key: "ingest_gap:\(last)")
    }
}
