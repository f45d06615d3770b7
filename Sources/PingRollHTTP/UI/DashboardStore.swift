import Foundation
import PingRollCore
import Synchronization

/// The dashboard definitions a serving pingroll draws: read from a directory (`--dashboards`,
/// or the shipped `dashboards/`) or built into the binary, reloaded without a restart (SIGHUP,
/// `POST /api/v1/dashboards/reload`), and extended by "save as panel" (admin), which writes the
/// definition file back. A reload that fails keeps the definitions in use.
public final class DashboardStore: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// Whether the request, not the server's files, is at fault.
        public let byRequest: Bool
    }

    /// nil: the built-in definitions, which cannot be edited.
    public let directory: String?
    /// The catalog definitions are checked against, and the definitions themselves.
    private let current: Mutex<(catalog: MetricCatalog, dashboards: [Dashboard])>
    /// One writer at a time: "save as panel" reads, changes and writes a file.
    private let writing = Mutex(())

    public init(directory: String?, catalog: MetricCatalog) throws(Failure) {
        self.directory = directory
        current = Mutex((catalog, try Self.read(directory, catalog)))
    }

    public var dashboards: [Dashboard] { current.withLock { $0.dashboards } }
    var catalog: MetricCatalog { current.withLock { $0.catalog } }

    /// Rereads every definition (against `catalog`, or the one in use); on any problem keeps
    /// the old ones and throws it.
    @discardableResult
    public func reload(catalog newCatalog: MetricCatalog? = nil) throws(Failure) -> [Dashboard] {
        let catalog = newCatalog ?? self.catalog
        let fresh = try Self.read(directory, catalog)
        current.withLock { $0 = (catalog, fresh) }
        return fresh
    }

    /// Checks the definitions against `catalog` without using them.
    public func check(against catalog: MetricCatalog) throws(Failure) {
        _ = try Self.read(directory, catalog)
    }

    static func read(_ directory: String?, _ catalog: MetricCatalog) throws(Failure) -> [Dashboard] {
        var sources: [(String, [UInt8])] = []
        if let directory {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
            for file in files {
                let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
                guard let data = FileManager.default.contents(atPath: path), data.count <= 4 << 20 else {
                    throw Failure(description: "\(path) cannot be read (or is over 4 MiB)", byRequest: false)
                }
                sources.append((path, Array(data)))
            }
        } else {
            sources = ShippedDefaults.dashboards.map { ("(built-in) \($0.name)", Array($0.json.utf8)) }
        }
        var definitions: [Dashboard] = []
        var slugs = Set<String>()
        for (name, bytes) in sources {
            let d: Dashboard
            do throws(CatalogError) { d = try Dashboard(json: bytes, catalog: catalog) } catch {
                throw Failure(description: "\(name): \(error)", byRequest: false)
            }
            guard slugs.insert(d.slug).inserted else { throw Failure(description: "\(name): dashboard slug \(d.slug) is used twice", byRequest: false) }
            definitions.append(d)
        }
        return definitions
    }

    /// Appends a panel (a JSON object as a dashboard's `panels` hold) to dashboard `slug`: the
    /// whole dashboard is checked against the catalog first, then its file is rewritten (to a
    /// temporary file, synced, renamed into place) and everything reloaded.
    public func appendPanel(slug: String, panel: [String: Any]) throws(Failure) -> Dashboard {
        guard let directory else {
            throw Failure(description: "the dashboards are built into this pingroll; start serve with --dashboards DIR to save panels", byRequest: false)
        }
        return try writing.withLock { _ throws(Failure) -> Dashboard in
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
            for file in files {
                let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
                guard let data = FileManager.default.contents(atPath: path),
                      var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], object["slug"] as? String == slug else { continue }
                var panels = object["panels"] as? [Any] ?? []
                panels.append(panel)
                object["panels"] = panels
                guard let encoded = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
                    throw Failure(description: "the panel is not JSON", byRequest: true)
                }
                let checked: Dashboard
                do throws(CatalogError) { checked = try Dashboard(json: Array(encoded), catalog: catalog) } catch {
                    throw Failure(description: "\(error)", byRequest: true)
                }
                let temporary = path + ".saving-\(getpid())"
                guard FileManager.default.createFile(atPath: temporary, contents: encoded + Data("\n".utf8)) else {
                    throw Failure(description: "\(directory) is not writable", byRequest: false)
                }
                let fd = open(temporary, O_RDONLY)
                if fd >= 0 { _ = fsync(fd); close(fd) }
                guard rename(temporary, path) == 0 else {
                    unlink(temporary)
                    throw Failure(description: "\(path) cannot be replaced", byRequest: false)
                }
                try reload()
                return checked
            }
            throw Failure(description: "there is no dashboard \(slug)", byRequest: true)
        }
    }
}
