import Foundation
import PingRollCore
import PingRollService

/// What the built-in dashboard UI serves: the dashboard definitions and Chart.js.
public struct UIConfiguration: Sendable {
    /// The dashboard definitions, checked against the catalog; reloadable.
    public var store: DashboardStore
    public var dashboards: [Dashboard] { store.dashboards }
    /// Chart.js (Debian's libjs-chart.js), or nil when it is not installed.
    public var chartJS: [UInt8]?
    public var chartJSPath: String

    public init(dashboards: DashboardStore, chartJSPath: String, chartJS: [UInt8]?) {
        self.store = dashboards
        self.chartJSPath = chartJSPath
        self.chartJS = chartJS
    }

    /// Where Debian's libjs-chart.js installs Chart.js.
    public static let debianChartJS = "/usr/share/javascript/chart.js/chart.min.js"
}

extension PingRollResponder {
    static func addUIRoutes(to r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/", Route(maxBodyBytes: small, requiresLength: false) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(DashboardPage.html.utf8)))
        }.on(.ingest))
        r.add("GET", "/explore", Route(maxBodyBytes: small, requiresLength: false, queryParameters: nil) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(EmbeddedPages.exploreHTML.utf8)))
        }.on(.ingest))
        r.add("GET", "/beta", Route(maxBodyBytes: small, requiresLength: false, queryParameters: nil) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(EmbeddedPages.betaHTML.utf8)))
        }.on(.ingest))
        r.add("GET", "/installation", Route(maxBodyBytes: small, requiresLength: false, queryParameters: nil) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(EmbeddedPages.installationHTML.utf8)))
        }.on(.ingest))
        for asset in EmbeddedPages.assets {
            let type = asset.name.hasSuffix(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8"
            let body = Array(asset.text.utf8)
            r.add("GET", "/assets/" + asset.name, Route(maxBodyBytes: small, requiresLength: false) { _, _, done in
                done(HTTPResponse(status: 200, headers: [("Content-Type", type), ("Cache-Control", "no-store")], body: body))
            }.on(.ingest))
        }
        r.add("GET", "/assets/chart.min.js", Route(maxBodyBytes: small, requiresLength: false) { responder, _, done in
            guard let ui = responder.ui, let js = ui.chartJS else {
                return done(HTTPError(404, "not_found", "Chart.js is not installed at \(responder.ui?.chartJSPath ?? UIConfiguration.debianChartJS) (apt-get install libjs-chart.js)").response)
            }
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/javascript; charset=utf-8"), ("Cache-Control", "max-age=86400")], body: js))
        }.on(.ingest))
        r.add("GET", "/api/v1/dashboards", Route(maxBodyBytes: small, requiresLength: false, role: .viewer, queryParameters: []) { responder, _, done in
            done(.json(200, DashboardListBody(responder.ui?.dashboards ?? [],
                                              problems: (responder.ui?.store.problems ?? []).map { .init(file: $0.file, reason: $0.reason) })))
        })
        r.add("POST", "/api/v1/catalog/reload", Route(maxBodyBytes: small, requiresLength: false, role: .admin, queryParameters: [],
                                                     answer: { responder, _ in
            let result = try responder.reloadCatalog()
            return .json(200, CatalogReloadBody(metrics: result.metrics, stale: result.stale, dashboards: result.dashboards))
        }))
        r.add("POST", "/api/v1/dashboards/reload", Route(maxBodyBytes: small, requiresLength: false, role: .admin, queryParameters: [],
                                                        answer: { responder, _ in try responder.reloadDashboards() }))
        r.add("POST", "/api/v1/dashboards/{slug}/panels", Route(maxBodyBytes: 64 << 10, requiresLength: true, role: .admin, queryParameters: [],
                                                               answer: { try $0.savePanel($1) }))
    }
}

extension PingRollResponder {
    /// `POST /api/v1/dashboards/reload` (admin): rereads the definitions (also done on SIGHUP).
    func reloadDashboards() throws -> HTTPResponse {
        guard let ui else { throw HTTPError(503, "unavailable", "this pingroll serves no dashboards") }
        do throws(DashboardStore.Failure) {
            return .json(200, DashboardListBody(try ui.store.reload()))
        } catch {
            throw HTTPError(422, "invalid_dashboard", "\(error.description); the dashboards in use are kept")
        }
    }

    /// `POST /api/v1/dashboards/{slug}/panels` (admin) with a panel (`id`, `title`, optional
    /// `description`, `chart`, `query`): checked with the whole dashboard, written into its file.
    func savePanel(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let ui else { throw HTTPError(503, "unavailable", "this pingroll serves no dashboards") }
        try request.checkedJSONBody()
        guard let panel = (try? JSONTree.parse(request.body))?.objectValue else {
            throw HTTPError(400, "not_an_object", "the body must be a panel: a JSON object with id, title, chart and query")
        }
        let slug = try request.path("slug", as: String.self, notFound: "")
        do throws(DashboardStore.Failure) {
            let dashboard = try ui.store.appendPanel(slug: slug, panel: panel)
            return .json(201, DashboardListBody([dashboard]))
        } catch {
            switch error.kind {
            case .notFound: throw HTTPError(404, "not_found", error.description)
            case .invalid: throw HTTPError(422, "invalid_field", error.description)
            case .files: throw HTTPError(409, "not_editable", error.description)
            }
        }
    }
}

/// `POST /api/v1/catalog/reload`.
struct CatalogReloadBody: Encodable, Sendable {
    var metrics: Int
    var stale: [String]
    var dashboards: Int
}
