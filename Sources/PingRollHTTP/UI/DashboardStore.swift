import Foundation
import PingRollCore
import PingRollService
import Synchronization

/// The dashboard definitions a serving pingroll draws: read from a directory (`--dashboards`,
/// or the shipped `dashboards/`) or built into the binary, reloaded without a restart (SIGHUP,
/// `POST /api/v1/dashboards/reload`), and extended by "save as panel" (admin), which writes the
/// definition file back. A reload that fails keeps the definitions in use.
public final class DashboardStore: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public enum Kind: Sendable {
            /// The request is at fault: the panel or what the dashboard would become.
            case invalid
            /// No dashboard has the slug asked for.
            case notFound
            /// The server's files: built in, not writable, not readable.
            case files
        }
        public let description: String
        public let kind: Kind

        init(description: String, kind: Kind) {
            self.description = description
            self.kind = kind
        }
    }

    /// A definition file left out because it cannot be used, and why.
    public struct Problem: Sendable, Equatable {
        /// The file's name in the directory.
        public var file: String
        public var reason: String
    }

    /// The largest definition file pingroll reads; "save as panel" never writes a larger one.
    public static let maxFileBytes = 4 << 20

    /// nil: the built-in definitions, which cannot be edited.
    public let directory: String?
    /// The catalog definitions are checked against, the definitions themselves, and the files
    /// left out at start.
    private let current: Mutex<(catalog: MetricCatalog, dashboards: [Dashboard], problems: [Problem])>
    /// One writer at a time: "save as panel" reads, changes and writes a file.
    private let writing = Mutex(())

    /// Reads every definition. A file that cannot be used never stops the start: it is left
    /// out and listed in `problems` (the log and `GET /api/v1/dashboards` say why).
    public init(directory: String?, catalog: MetricCatalog) {
        self.directory = directory
        let (dashboards, problems) = Self.read(directory, catalog)
        current = Mutex((catalog, dashboards, problems))
    }

    public var dashboards: [Dashboard] { current.withLock { $0.dashboards } }
    public var problems: [Problem] { current.withLock { $0.problems } }
    var catalog: MetricCatalog { current.withLock { $0.catalog } }

    /// Rereads every definition (against `catalog`, or the one in use); on any problem keeps
    /// the old ones and throws it.
    @discardableResult
    public func reload(catalog newCatalog: MetricCatalog? = nil) throws(Failure) -> [Dashboard] {
        let catalog = newCatalog ?? self.catalog
        let fresh = try Self.readAll(directory, catalog)
        current.withLock { $0 = (catalog, fresh, []) }
        return fresh
    }

    /// Checks the definitions against `catalog` without using them.
    public func check(against catalog: MetricCatalog) throws(Failure) {
        _ = try Self.readAll(directory, catalog)
    }

    /// Every definition, or the first problem.
    static func readAll(_ directory: String?, _ catalog: MetricCatalog) throws(Failure) -> [Dashboard] {
        let (dashboards, problems) = read(directory, catalog)
        if let first = problems.first { throw Failure(description: "\(first.file): \(first.reason)", kind: .files) }
        return dashboards
    }

    /// The definitions that can be used, and why the others cannot.
    static func read(_ directory: String?, _ catalog: MetricCatalog) -> ([Dashboard], [Problem]) {
        var sources: [(String, [UInt8])] = []
        var problems: [Problem] = []
        if let directory {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
            for file in files {
                let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
                do throws(BoundedFile.Failure) {
                    sources.append((file, try BoundedFile.read(path, maxBytes: maxFileBytes)))
                } catch {
                    problems.append(Problem(file: file, reason: error == .tooLarge
                        ? "is over the \(maxFileBytes / (1 << 20)) MiB a definition may be" : "cannot be read"))
                }
            }
        } else {
            sources = ShippedDefaults.dashboards.map { ("(built-in) \($0.name)", Array($0.json.utf8)) }
        }
        var definitions: [Dashboard] = []
        var slugs = Set<String>()
        for (name, bytes) in sources {
            let d: Dashboard
            do throws(CatalogError) { d = try Dashboard(json: bytes, catalog: catalog) } catch {
                problems.append(Problem(file: name, reason: "\(error)"))
                continue
            }
            guard slugs.insert(d.slug).inserted else {
                problems.append(Problem(file: name, reason: "dashboard slug \(d.slug) is used twice"))
                continue
            }
            definitions.append(d)
        }
        // The definitions' own order (the adoption dashboard first), then file name order.
        let ranked = definitions.enumerated().sorted { a, b in
            (a.element.order ?? Int.max, a.offset) < (b.element.order ?? Int.max, b.offset)
        }
        return (ranked.map(\.element), problems)
    }

    /// Appends a panel (a JSON object as a dashboard's `panels` hold) to dashboard `slug`: the
    /// whole dashboard is checked against the catalog first, then its file is rewritten (to a
    /// temporary file, synced, renamed into place) and everything reloaded.
    public func appendPanel(slug: String, panel: JSONObject) throws(Failure) -> Dashboard {
        guard let directory else {
            throw Failure(description: "the dashboards are built into this pingroll; start serve with --dashboards DIR to save panels", kind: .files)
        }
        return try writing.withLock { _ throws(Failure) -> Dashboard in
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
            for file in files {
                let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
                guard let data = try? BoundedFile.read(path, maxBytes: Self.maxFileBytes),
                      var object = (try? JSONTree.parse(data))?.objectValue, object["slug"]?.stringValue == slug else { continue }
                var panels = object["panels"]?.arrayValue ?? []
                panels.append(.object(panel))
                object["panels"] = .array(panels)
                let encoded = JSONTree.object(object).serialized(pretty: true)
                let contents = Data(encoded + [0x0A])
                // Refused before anything is written: a file pingroll could not read back would
                // leave the dashboard out at the next start.
                guard contents.count <= Self.maxFileBytes else {
                    throw Failure(description: "with this panel \(file) would be \(contents.count) bytes, more than the \(Self.maxFileBytes / (1 << 20)) MiB pingroll reads; remove panels from it or save into another dashboard",
                                  kind: .invalid)
                }
                let checked: Dashboard
                do throws(CatalogError) { checked = try Dashboard(json: encoded, catalog: catalog) } catch {
                    throw Failure(description: "\(error)", kind: .invalid)
                }
                try Self.replace(path, with: contents, directory: directory)
                do throws(Failure) {
                    try reload()
                } catch {
                    // Back to the file as it was, so that the next start reads what this one did.
                    try? Self.replace(path, with: Data(data), directory: directory)
                    throw Failure(description: "\(error.description); the previous \(file) was restored", kind: .files)
                }
                return checked
            }
            throw Failure(description: "there is no dashboard \(slug)", kind: .notFound)
        }
    }

    /// Writes `contents` to a temporary file beside `path`, syncs it, and renames it into place.
    private static func replace(_ path: String, with contents: Data, directory: String) throws(Failure) {
        let temporary = path + ".saving-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: contents) else {
            throw Failure(description: "\(directory) is not writable", kind: .files)
        }
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "\(path) cannot be replaced", kind: .files)
        }
    }
}
