import Logging
import PingRollCore
import PingRollService

/// What a catalog reload did.
public struct CatalogReload: Sendable {
    public var metrics: Int
    /// Metrics new or changed while pings exist: not maintained until `rollup rebuild`.
    public var stale: [String]
    public var dashboards: Int
}

extension PingRollResponder {
    /// Serves with `catalog` from now on: checks the dashboards against it first (nothing
    /// changes if one no longer fits), then the store (which prepares the rollups), the ingest
    /// path and the dashboards take it.
    public func useCatalog(_ catalog: MetricCatalog) throws -> CatalogReload {
        if let ui {
            do throws(DashboardStore.Failure) { try ui.store.check(against: catalog) } catch {
                throw HTTPError(422, "invalid_catalog", "the dashboards do not fit the new catalog (\(error.description)); the catalog in use is kept")
            }
        }
        let stale = try services.useCatalog(catalog)
        let dashboards = try ui.map { ui throws in try ui.store.reload(catalog: catalog).count } ?? 0
        return CatalogReload(metrics: catalog.metrics.count, stale: stale, dashboards: dashboards)
    }

    /// Reads the catalog file again and uses it (`POST /api/v1/catalog/reload`, SIGHUP).
    public func reloadCatalog() throws -> CatalogReload {
        guard let catalogSource else { throw HTTPError(503, "unavailable", "this pingroll cannot reload its catalog") }
        let catalog: MetricCatalog
        do { catalog = try catalogSource() } catch {
            throw HTTPError(422, "invalid_catalog", "\(error); the catalog in use is kept")
        }
        return try useCatalog(catalog)
    }
}
