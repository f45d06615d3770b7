import PingRollCore
import PingRollStore

/// Annotations on the time axis: listed for a range, added and deleted by hand (pingroll's own
/// ones are written by the store as things happen, and kept).
public final class AnnotationService: Sendable {
    let store: any PingStore

    init(store: any PingStore) { self.store = store }

    /// Those in `fromDay...toDay` (whole days), about `metric` or about all; at most 10,000.
    public func list(fromDay: Int64, toDay: Int64, metric: String?) throws(StorageError) -> AnnotationListBody {
        AnnotationListBody(try store.annotations(from: Timestamp(milliseconds: fromDay * 86_400_000),
                                                 to: Timestamp(milliseconds: (toDay + 1) * 86_400_000), metric: metric))
    }

    /// A manual annotation: `text` of 1 to 500 characters, `metric` a catalog metric or nil.
    public func add(at: Timestamp, text: String, metric: String?) throws -> AnnotationBody {
        guard text.hasVisibleCharacter, text.count <= Annotation.maxTextCharacters, !text.utf8.contains(0) else {
            throw ServiceError(422, "invalid_field", "`text`: 1 to \(Annotation.maxTextCharacters) characters, not blank")
        }
        if let metric, store.catalog?.metric(metric) == nil {
            throw ServiceError(422, "invalid_field", "`metric`: \(metric.replacingNUL()) is not in the catalog")
        }
        return AnnotationBody(try store.addAnnotation(Annotation(at: at, kind: .manual, text: text, metric: metric)))
    }

    /// Deletes manual annotation `id`: 404 without it, 409 for one of pingroll's own.
    public func delete(id: Int64) throws {
        switch try store.deleteAnnotation(id: id) {
        case nil: throw ServiceError.notFound("there is no annotation \(id)")
        case false?: throw ServiceError(409, "automatic", "annotation \(id) is pingroll's own; only manual ones can be deleted")
        case true?: return
        }
    }
}
